import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface FreePortOptions {
  /**
   * Offsets from the port that must be free as well: a Redis Cluster node listens on its port and
   * on port + 10000 (its cluster bus), and fails to start if either bind fails.
   */
  alsoFree?: readonly number[];
}

/** Lowest port a private server is given; below it are well-known services' ports. */
const LOWEST = 10_000;

/**
 * A loopback port that was free a moment ago, with `alsoFree` offsets free too.
 *
 * Ports are drawn at random below the kernel's ephemeral range
 * (`/proc/sys/net/ipv4/ip_local_port_range`, 32768-60999 by default). A port from that range, the
 * one `listen(0)` hands out, can be taken at any moment by the local end of an outgoing
 * connection: between this check and the server's bind, and while a test restarts a killed server
 * on the same port. A port below the range can only be taken by another listener: another suite's
 * server, which the starters in test/helpers retry on a new port (`onFreshPort`).
 */
export async function freePort(opts: FreePortOptions = {}): Promise<number> {
  const offsets = [0, ...(opts.alsoFree ?? [])];
  const highest = ephemeralLow() - 1 - Math.max(...offsets);
  if (highest - LOWEST < 1_000) return kernelPort(offsets);
  for (;;) {
    const port = LOWEST + Math.floor(Math.random() * (highest - LOWEST + 1));
    if (await allFree(port, offsets)) return port;
  }
}

/** Where no room is left below the ephemeral range: ports from the kernel, checked likewise. */
async function kernelPort(offsets: readonly number[]): Promise<number> {
  for (;;) {
    const port = await listenOnce(0);
    if (port !== undefined && port + Math.max(...offsets) < 65_536 && (await allFree(port, offsets))) return port;
  }
}

async function allFree(port: number, offsets: readonly number[]): Promise<boolean> {
  for (const offset of offsets) if ((await listenOnce(port + offset)) === undefined) return false;
  return true;
}

/** Listens on `port` of 127.0.0.1 and closes again; the port it had, or undefined if it was taken. */
function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : undefined));
    });
  });
}

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** A server start that failed because its port was taken after freePort() saw it free. */
export class PortTaken extends Error {}

/**
 * The error for a server that did not start: PortTaken when its own output says its port was in
 * use (Redis and PostgreSQL both write "Address already in use"), so onFreshPort tries another.
 */
export function startFailure(message: string, output: string): Error {
  return /address already in use/i.test(output) ? new PortTaken(message) : new Error(message);
}

/**
 * Runs `start` on a fresh free port, and again on a new one (up to `attempts` times) when it
 * fails with PortTaken: another suite may have bound the port since it was seen free. Resolves
 * with the port it started on and what `start` returned.
 */
export async function onFreshPort<T>(
  start: (port: number) => Promise<T>,
  opts: FreePortOptions & { attempts?: number } = {},
): Promise<{ port: number; started: T }> {
  const attempts = opts.attempts ?? 4;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(opts);
    try {
      return { port, started: await start(port) };
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt >= attempts) throw err;
    }
  }
}
