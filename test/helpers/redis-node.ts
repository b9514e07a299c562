/**
 * One private Redis process of a topology (a Cluster node, a Sentinel data server or a sentinel),
 * started and watched by test/helpers/redis-server.ts, plus `redis-cli` for the harness's own
 * admin commands, so the harness never depends on the client under test.
 */
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';
import { spawnRedisProcess, terminate } from './redis-server.js';

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

/** Starts `bin` with `args(port, dir)` in `<parent>/<port>` on a free port; resolves once it answers PING. */
export async function startNode(parent: string, bin: string, args: (port: number, dir: string) => Promise<string[]> | string[]): Promise<RedisNode> {
  const port = await freePort();
  const dir = join(parent, String(port));
  await mkdir(dir, { recursive: true });
  const spawnIt = async () => spawnRedisProcess(bin, await args(port, dir), port, dir);
  let child: ChildProcess | undefined = await spawnIt();
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

/** `redis-cli -p <port> <args>`; stdout without the trailing newline. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
  return stdout.trimEnd();
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
  return /slave0:.*state=online/.test(await redisCli(port, 'info', 'replication'));
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
