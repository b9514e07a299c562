/**
 * One private Redis process of a topology (a Cluster node, a Sentinel data server or a sentinel),
 * started and watched by test/helpers/redis-server.ts, plus `redis-cli` for the harness's own
 * admin commands, so the harness never depends on the client under test.
 */
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onFreshPort } from './free-port.js';
import type { FreePortOptions } from './free-port.js';
import { terminate } from './child-server.js';
import { spawnRedisProcess } from './redis-server.js';

const run = promisify(execFile);

export interface RedisNode {
  readonly port: number;
  readonly dir: string;
  /** Whether the process runs (false after kill or stop until restart). */
  readonly running: boolean;
  /** SIGKILL: no shutdown, no final AOF rewrite. */
  kill(): Promise<void>;
  /** Start again on the same port, dir and arguments. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: a hung node that keeps its connections. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

/**
 * Starts `bin` with `args(port, dir)` in `<parent>/<port>` on a free port (a new one if another
 * server took it first); resolves once it answers PING. `ports.alsoFree` names offsets from the port
 * the node binds as well (a Cluster node's bus on port + 10000).
 */
export async function startNode(
  parent: string,
  bin: string,
  args: (port: number, dir: string) => Promise<string[]> | string[],
  ports: FreePortOptions = {},
): Promise<RedisNode> {
  const dirOf = (port: number) => join(parent, String(port));
  const spawnOn = async (port: number) => {
    await mkdir(dirOf(port), { recursive: true });
    return spawnRedisProcess(bin, await args(port, dirOf(port)), port, dirOf(port));
  };
  const { port, started } = await onFreshPort(spawnOn, ports);
  const dir = dirOf(port);
  const spawnIt = () => spawnOn(port);
  let child: ChildProcess | undefined = started;
  const halt = async (signal: NodeJS.Signals) => {
    const current = child;
    child = undefined;
    if (current !== undefined) await terminate(current, signal);
  };
  return {
    port,
    dir,
    get running() {
      return child !== undefined;
    },
    kill: () => halt('SIGKILL'),
    async restart() {
      await halt('SIGTERM');
      child = await spawnIt();
    },
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    stop: () => halt('SIGTERM'),
  };
}

/** `redis-cli -p <port> <args>`; stdout without the trailing newline (for `--cluster create`). */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 30_000 });
  return stdout.trimEnd();
}

type Reply = string | number | null | Reply[];

/**
 * One command over a fresh loopback connection, in raw RESP2: the harness's admin commands stay
 * independent of the client under test, and cost no process spawn. Bulk and simple strings come
 * back as strings, arrays as arrays; an error reply rejects.
 */
export function redisCommand(port: number, ...args: string[]): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let buffer = Buffer.alloc(0);
    socket.setTimeout(5_000, () => socket.destroy(new Error(`redis on ${port}: no answer to ${args[0]}`)));
    socket.once('error', reject);
    socket.once('connect', () => socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const parsed = parseReply(buffer, 0);
      if (parsed === undefined) return;
      socket.destroy();
      if (parsed.error !== undefined) reject(new Error(`redis on ${port}: ${parsed.error}`));
      else resolve(parsed.value);
    });
  });
}

/** Parses one RESP2 reply at `at`; undefined while incomplete. */
function parseReply(buf: Buffer, at: number): { value: Reply; end: number; error?: string } | undefined {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const line = buf.toString('utf8', at + 1, eol);
  const next = eol + 2;
  switch (String.fromCharCode(buf[at]!)) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: null, end: next, error: line };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buf.length < next + length + 2) return undefined;
      return { value: buf.toString('utf8', next, next + length), end: next + length + 2 };
    }
    default: {
      const count = Number(line);
      const items: Reply[] = [];
      let end = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, end);
        if (item === undefined) return undefined;
        items.push(item.value);
        end = item.end;
      }
      return { value: count < 0 ? null : items, end };
    }
  }
}

/** A command whose answer is text (INFO, CLUSTER NODES, ...). */
export async function redisText(port: number, ...args: string[]): Promise<string> {
  return String(await redisCommand(port, ...args));
}

/** One `field:value` line of an INFO / CLUSTER INFO answer. */
export function infoField(text: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(text)?.[1]?.trim();
}

/** Polls `check` every 100 ms until it resolves true; throws `what` after `timeoutMs`. */
export async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Whether the server on `port` has a replica that is online (synced and streaming). */
export async function hasOnlineReplica(port: number): Promise<boolean> {
  return /slave0:.*state=online/.test(await redisText(port, 'info', 'replication'));
}

/** Runs `work`; if it fails, stops what was started (`stop`) before rethrowing. */
export async function stopOnFailure<T>(stop: () => Promise<void>, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    await stop();
    throw err;
  }
}
