/**
 * Private redis-server instances for tests: free loopback port, temp dir, AOF
 * on, so a test can SIGKILL Redis and restart it on the same data.
 *
 * No orphan survives the test process: live servers are SIGKILLed on `exit`,
 * and a detached shell watchdog kills each one if the test process dies
 * without running exit handlers (SIGKILL, OOM).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { supervise, terminate } from './child-server.js';
import { onFreshPort, startFailure } from './free-port.js';

export interface RedisHandle {
  url: string;
  port: number;
  /** Data directory (AOF lives here); '' for an external server. */
  dir: string;
  /** Whether this handle owns a private server (kill/restart work, flushing is safe). */
  private: boolean;
  /** Graceful shutdown, then the data directory is removed. */
  stop(): Promise<void>;
  /** SIGKILL: no shutdown, no final AOF rewrite. */
  kill(): Promise<void>;
  /** Start again on the same port and dir; data in the AOF survives. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: a hung server that still holds its connections (a network black hole). */
  pause(): void;
  resume(): void;
}

const READY_TIMEOUT_MS = 10_000;

/**
 * Starts a private redis-server (from PATH) and resolves once it answers PING. `extraArgs` are
 * appended to its command line (e.g. `--cluster-enabled yes` for CLUSTER KEYSLOT).
 */
export async function startRedis(extraArgs: readonly string[] = []): Promise<RedisHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'tv-redis-'));
  const { port, started } = await onFreshPort((port) => spawnRedis(port, dir, extraArgs)).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  let child: ChildProcess | undefined = started;

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const current = child;
    child = undefined;
    if (current !== undefined) await terminate(current, signal);
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    private: true,
    async stop() {
      await halt('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
    kill: () => halt('SIGKILL'),
    async restart() {
      await halt('SIGTERM');
      child = await spawnRedis(port, dir, extraArgs);
    },
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
  };
}

/** A private server, or the one named by REDIS_URL (which tests must not kill or restart). */
export async function redisForTests(): Promise<RedisHandle> {
  const external = process.env['REDIS_URL'];
  if (external === undefined || external === '') return startRedis();
  const unsupported = (): never => {
    throw new Error('not supported with REDIS_URL');
  };
  return {
    url: external,
    port: Number(new URL(external).port || 6379),
    dir: '',
    private: false,
    stop: async () => {},
    kill: async () => unsupported(),
    restart: async () => unsupported(),
    pause: unsupported,
    resume: unsupported,
  };
}

async function spawnRedis(port: number, dir: string, extraArgs: readonly string[] = []): Promise<ChildProcess> {
  return spawnRedisProcess('redis-server', [...privateServerArgs(port, dir), '--appendfsync', 'everysec', ...extraArgs], port, dir);
}

/** Arguments every private server gets: loopback port, its own dir, AOF on, no RDB snapshots. */
export function privateServerArgs(port: number, dir: string): string[] {
  return ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--daemonize', 'no', '--loglevel', 'warning'];
}

/**
 * Spawns `bin args` (redis-server or redis-sentinel), watched like every private server (killed on
 * exit and by the watchdog, which also removes `dir`), and resolves once `port` answers PING.
 * Rejects with PortTaken when the server could not bind its port (another server took it after
 * freePort() saw it free), so the caller can start it again on a new one.
 */
export async function spawnRedisProcess(
  bin: string,
  args: string[],
  port: number,
  dir: string,
  /** One readiness probe (default: a plain RESP PING on `port`). */
  ready: (port: number) => Promise<boolean> = pingOnce,
): Promise<ChildProcess> {
  // Redis logs to stdout: the last of it says why a server did not start (kept bounded).
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  supervise(child, dir);
  try {
    await waitForPing(port, child, ready);
  } catch (err) {
    await terminate(child, 'SIGKILL');
    throw startFailure(`${bin} on port ${port} did not start: ${String(err)} ${output}`, output);
  }
  return child;
}

async function waitForPing(port: number, child: ChildProcess, ready: (port: number) => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
    if (await ready(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('timed out waiting for PING');
}

/** Raw RESP PING, so the harness does not depend on the client under test. */
function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    // A peer that hangs up without answering is no PONG (an idle timeout never fires on a closed socket).
    socket.once('close', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}
