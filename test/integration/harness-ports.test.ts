/**
 * The test harness's private servers get ports no outgoing connection can take (below the kernel's
 * ephemeral range), and a server whose port another listener took first is started again on a new
 * port instead of failing the suite that needed it.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { terminate } from '../helpers/child-server.js';
import { freePort, onFreshPort, PortTaken } from '../helpers/free-port.js';
import { privateServerArgs, spawnRedisProcess } from '../helpers/redis-server.js';

const listening: Server[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(listening.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Listens on `port`; connections to it (the harness's readiness probe) are dropped at once. */
async function occupy(port: number): Promise<void> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  listening.push(server);
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tv-harness-'));
  dirs.push(dir);
  return dir;
}

const clusterArgs = (port: number, dir: string) => [
  ...privateServerArgs(port, dir),
  '--cluster-enabled',
  'yes',
  '--cluster-config-file',
  join(dir, 'nodes.conf'),
];

describe('ports of the private test servers', () => {
  it('are drawn below the ephemeral range, with every offset asked for free as well', async () => {
    const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    for (let i = 0; i < 50; i++) {
      const port = await freePort({ alsoFree: [10_000] });
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port + 10_000).toBeLessThan(ephemeralLow);
      // Both are bindable: occupying them succeeds (and would throw if either were taken).
      await occupy(port);
      await occupy(port + 10_000);
    }
  });

  it('a redis-server whose port or cluster bus port is taken fails with PortTaken, saying why', async () => {
    const busTaken = await freePort({ alsoFree: [10_000] });
    await occupy(busTaken + 10_000);
    const dir = await tempDir();
    const bus = await spawnRedisProcess('redis-server', clusterArgs(busTaken, dir), busTaken, dir).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(bus).toBeInstanceOf(PortTaken);
    expect(String(bus)).toContain(`Could not create server TCP listening socket 127.0.0.1:${busTaken + 10_000}: bind: Address already in use`);

    const taken = await freePort();
    await occupy(taken);
    const plain = await spawnRedisProcess('redis-server', privateServerArgs(taken, dir), taken, dir).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(plain).toBeInstanceOf(PortTaken);
  });

  it('a start that lost its port is retried on a new port, and other failures are not retried', async () => {
    const dir = await tempDir();
    const tried: number[] = [];
    const { port, started: child } = await onFreshPort(
      async (port) => {
        tried.push(port);
        // The first port is taken by another listener between the check and the bind.
        if (tried.length === 1) await occupy(port + 10_000);
        return spawnRedisProcess('redis-server', clusterArgs(port, dir), port, dir);
      },
      { alsoFree: [10_000] },
    );
    try {
      expect(tried).toHaveLength(2);
      expect(tried[1]).not.toBe(tried[0]);
      expect(port).toBe(tried[1]);
    } finally {
      await terminate(child, 'SIGKILL');
    }

    let calls = 0;
    const other = await onFreshPort(async () => {
      calls++;
      throw new Error('not a port problem');
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(String(other)).toBe('Error: not a port problem');
    expect(calls).toBe(1);

    let lost = 0;
    const always = await onFreshPort(
      async (port) => {
        lost++;
        throw new PortTaken(`port ${port} taken`);
      },
      { attempts: 3 },
    ).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(always).toBeInstanceOf(PortTaken);
    expect(lost).toBe(3);
  });
});
