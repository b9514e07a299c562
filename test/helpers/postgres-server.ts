/**
 * Private PostgreSQL instances for tests (Debian's binaries): `initdb` into a
 * temp dir, `postgres` on a free loopback port, stopped after, like
 * redis-server.ts. Never the machine's own service.
 *
 * initdb refuses to run as root, so as root the server runs as the `postgres`
 * user through `setpriv` (which execs: the child's pid is the server's).
 *
 * No orphan survives the test process: live servers are SIGKILLed on `exit`,
 * and a detached shell watchdog kills each one if the test process dies
 * without running exit handlers.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { supervise, terminate } from './child-server.js';
import { onFreshPort, startFailure } from './free-port.js';

const run = promisify(execFile);

export interface PostgresHandle {
  port: number;
  dir: string;
  /** A superuser (the attacker of the tamper tests, and whoever creates roles and databases). */
  superuserUrl(database?: string): string;
  /** A database owned by a new owner role, plus a runtime login role with no privileges yet. */
  createDatabase(name: string): Promise<{ ownerUrl: string; runtimeUrl: string; runtimeRole: string; superuserUrl: string }>;
  /** Fast shutdown, then the data directory is removed. */
  stop(): Promise<void>;
  /** SIGKILL: no shutdown checkpoint (crash recovery on restart). */
  kill(): Promise<void>;
  /** Start again on the same port and dir. */
  restart(): Promise<void>;
}

const READY_TIMEOUT_MS = 20_000;
/** Where Debian puts the binaries (the newest installed major). */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const majors = readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  if (majors[0] === undefined) throw new Error('no PostgreSQL under /usr/lib/postgresql');
  return join(root, majors[0], 'bin');
}

/** As root, run as the `postgres` user (initdb and postgres refuse root). */
function asPostgres(bin: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [bin, args];
  return ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', bin, ...args]];
}

export async function startPostgres(): Promise<PostgresHandle> {
  const bin = postgresBinDir();
  const dir = await mkdtemp(join(tmpdir(), 'tv-pg-'));
  if (process.getuid?.() === 0) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const data = join(dir, 'data');
  const [initCmd, initArgs] = asPostgres(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  await run(initCmd, initArgs, { cwd: dir });
  const { port, started } = await onFreshPort((port) => spawnPostgres(bin, data, dir, port));
  let child: ChildProcess | undefined = started;
  const url = (user: string, database: string) => `postgres://${user}@127.0.0.1:${port}/${database}`;

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const current = child;
    child = undefined;
    if (current !== undefined) await terminate(current, signal, 10_000);
  };

  return {
    port,
    dir,
    superuserUrl: (database = 'postgres') => url('postgres', database),
    async createDatabase(name) {
      const owner = `${name}_owner`;
      const runtime = `${name}_runtime`;
      const client = new pg.Client({ connectionString: url('postgres', 'postgres') });
      await client.connect();
      try {
        await client.query(`CREATE ROLE ${owner} LOGIN`);
        await client.query(`CREATE ROLE ${runtime} LOGIN`);
        await client.query(`CREATE DATABASE ${name} OWNER ${owner}`);
        await client.query(`REVOKE ALL ON DATABASE ${name} FROM PUBLIC`);
        await client.query(`GRANT CONNECT ON DATABASE ${name} TO ${runtime}`);
      } finally {
        await client.end();
      }
      return { ownerUrl: url(owner, name), runtimeUrl: url(runtime, name), runtimeRole: runtime, superuserUrl: url('postgres', name) };
    },
    async stop() {
      await halt('SIGINT');
      await rm(dir, { recursive: true, force: true });
    },
    kill: () => halt('SIGKILL'),
    async restart() {
      await halt('SIGINT');
      child = await spawnPostgres(bin, data, dir, port);
    },
  };
}

async function spawnPostgres(bin: string, data: string, dir: string, port: number): Promise<ChildProcess> {
  const args = ['-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir, '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'];
  const [cmd, cmdArgs] = asPostgres(join(bin, 'postgres'), args);
  const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  supervise(child, dir);
  try {
    await waitReady(port, child);
  } catch (err) {
    await terminate(child, 'SIGKILL');
    throw startFailure(`postgres on port ${port} did not start: ${String(err)} ${stderr}`, stderr);
  }
  return child;
}

async function waitReady(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
    const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await client.end().catch(() => {});
    }
  }
  throw new Error('timed out waiting for a connection');
}
