import { createRequire } from 'node:module';
import { Command, ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { StoreConflictError, StoreUnavailableError } from '../../../src/store/errors.js';
import { clusterClientState, guardStore, toStoreError } from '../../../src/store/redis/errors.js';

const fromIoredis = createRequire(createRequire(import.meta.url).resolve('ioredis'));
const { AbortError } = fromIoredis('redis-errors') as { AbortError: new (message: string) => Error };

const ready = { status: 'ready', stream: { writable: true } };
const reconnecting = { status: 'reconnecting', stream: { writable: false } };
/** The socket has ended but ioredis has not seen its close yet. */
const closing = { status: 'ready', stream: { writable: false } };

/** The error ioredis rejects a command with once `commandTimeout` passes (no I/O: the command is never sent). */
async function ioredisTimeout(): Promise<unknown> {
  const command = new Command('get', ['k']);
  command.setTimeout(1);
  return command.promise.then(
    () => null,
    (err: unknown) => err,
  );
}

const classified = (err: unknown, client: Parameters<typeof toStoreError>[1] = ready) => {
  const mapped = toStoreError(err, client);
  return { type: mapped.constructor.name, message: mapped.message, code: (mapped as { code?: unknown }).code };
};
const unavailable = (message: string) => ({ type: 'StoreUnavailableError', message, code: 'TV_STORE_UNAVAILABLE' });

describe('Redis store errors are classified by class and code, never by message', () => {
  it("ioredis's command deadline on a live connection is a timeout", async () => {
    expect(classified(await ioredisTimeout())).toStrictEqual(unavailable('store command timed out'));
  });

  it('a message saying "Command timed out" on another class is not a timeout', () => {
    expect(classified(new TypeError('Command timed out'))).toStrictEqual(unavailable('store unreachable'));
    expect(classified(new ReplyError('Command timed out'))).toStrictEqual(unavailable('store rejected the command'));
    expect(classified(Object.assign(new Error('Command timed out'), { code: 'ECONNRESET' }))).toStrictEqual(unavailable('store unreachable'));
    expect(classified(new AbortError('Command timed out'))).toStrictEqual(unavailable('store unreachable'));
  });

  it('a bare error while the client is not connected is unreachable, whatever it says', () => {
    expect(classified(new Error('Command timed out'), reconnecting)).toStrictEqual(unavailable('store unreachable'));
    expect(classified(new Error('Command timed out'), closing)).toStrictEqual(unavailable('store unreachable'));
  });

  it("on a Cluster, ioredis's command deadline is a timeout while every master connection is up", async () => {
    const cluster = (status: string, masters: { status: string; stream?: { writable: boolean } }[]) => clusterClientState({ status, nodes: () => masters });
    const up = { status: 'ready', stream: { writable: true } };
    const timeout = await ioredisTimeout();
    expect(classified(timeout, cluster('ready', [up, up, up]))).toStrictEqual(unavailable('store command timed out'));
    // A master's connection down (failing over), no master known, or the cluster itself not ready: unreachable.
    expect(classified(timeout, cluster('ready', [up, reconnecting, up]))).toStrictEqual(unavailable('store unreachable'));
    expect(classified(timeout, cluster('ready', [up, { status: 'connecting' }, up]))).toStrictEqual(unavailable('store unreachable'));
    expect(classified(timeout, cluster('ready', []))).toStrictEqual(unavailable('store unreachable'));
    expect(classified(timeout, cluster('connecting', [up, up, up]))).toStrictEqual(unavailable('store unreachable'));
    expect(classified(new TypeError('Command timed out'), cluster('ready', [up, up, up]))).toStrictEqual(unavailable('store unreachable'));
  });

  it('Redis refusing a command, an aborted command and a socket error are each named by type', () => {
    expect(classified(new ReplyError('ERR something'))).toStrictEqual(unavailable('store rejected the command'));
    expect(classified(new AbortError('Command aborted due to connection close'))).toStrictEqual(unavailable('store unreachable'));
    expect(classified(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toStrictEqual(unavailable('store unreachable'));
  });

  it('passes store errors and refused arguments through unchanged', () => {
    for (const err of [new StoreConflictError('x'), new StoreUnavailableError('y'), new RangeError('ttlMs')]) {
      expect(toStoreError(err, ready)).toBe(err);
    }
    expect(new StoreConflictError('x').code).toBe('TV_STORE_CONFLICT');
  });
});

class FakeStore {
  #calls = 0;
  async get(fail: unknown): Promise<number> {
    this.#calls += 1;
    if (fail !== undefined) throw fail;
    return this.#calls;
  }
  close(fail?: unknown): string {
    if (fail !== undefined) throw fail;
    return 'closed';
  }
  get calls(): number {
    return this.#calls;
  }
}

describe('guardStore', () => {
  it('turns every rejection and throw of every method into a store error, once, at construction', async () => {
    const store = new FakeStore();
    expect(guardStore(store, ready)).toBe(store);
    expect(await store.get(undefined)).toBe(1);
    expect(store.calls).toBe(1);
    await expect(store.get(new ReplyError('WRONGTYPE'))).rejects.toStrictEqual(new StoreUnavailableError('store rejected the command'));
    const conflict = new StoreConflictError('grant already exists');
    await expect(store.get(conflict)).rejects.toBe(conflict);
    await expect(store.get(new RangeError('ttl'))).rejects.toBeInstanceOf(RangeError);
    expect(store.close()).toBe('closed');
    expect(() => store.close(new AbortError('gone'))).toThrow(StoreUnavailableError);
  });

  it('wraps the methods of a plain object as well', async () => {
    const stores = guardStore(
      {
        nested: { n: 1 },
        async ping(): Promise<void> {
          throw await ioredisTimeout();
        },
      },
      ready,
    );
    await expect(stores.ping()).rejects.toStrictEqual(new StoreUnavailableError('store command timed out'));
    expect(stores.nested).toStrictEqual({ n: 1 });
    expect(Object.keys(stores)).toStrictEqual(['nested', 'ping']);
  });
});
