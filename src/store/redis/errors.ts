import { createRequire } from 'node:module';
import { StoreConflictError, StoreUnavailableError } from '../errors.js';
import type { StoreObserver } from '../stores.js';
import { withinBudget } from '../budget.js';
import type { StoreLiveness } from '../liveness.js';

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * ioredis throws the error classes of its `redis-errors` dependency (it
 * re-exports only ReplyError): resolved from ioredis's own location so these
 * are the very classes it throws. ReplyError is Redis answering `-ERR ...`;
 * every other RedisError (AbortError, MaxRetriesPerRequestError, ParserError)
 * means the command never got a readable answer.
 */
const fromIoredis = createRequire(createRequire(import.meta.url).resolve('ioredis'));
const { RedisError, ReplyError } = fromIoredis('redis-errors') as { RedisError: ErrorClass; ReplyError: ErrorClass };

/** What the classification reads of the ioredis client: its connection state. */
export interface ClientState {
  readonly status: string;
  readonly stream?: { readonly writable: boolean } | undefined;
}

/** What the classification reads of a Cluster client: its state and its master connections. */
export interface ClusterState {
  readonly status: string;
  nodes(role: 'master'): readonly ClientState[];
}

/**
 * A Cluster has no socket of its own: its commands go out on one connection per master. A bare
 * error is a command deadline when the cluster is ready and every master connection is up (the
 * same test as one server's); while a master's connection is down the cause stays "unreachable".
 */
export function clusterClientState(cluster: ClusterState): ClientState {
  return {
    get status() {
      return cluster.status;
    },
    get stream() {
      const masters = cluster.nodes('master');
      return { writable: masters.length > 0 && masters.every((n) => n.status === 'ready' && n.stream?.writable === true) };
    },
  };
}

/**
 * Maps anything thrown on the Redis path to StoreUnavailableError so callers
 * fail closed with 503, by the error's class or `code`, never its message.
 * Messages are static and the original error is not attached: Redis and
 * parser messages can quote keys or stored values.
 *
 * Passed through: StoreConflictError, StoreUnavailableError, and RangeError
 * (an argument a store refuses before sending anything, src/store/validation.ts).
 *
 * A timed-out write may still run once Redis catches up, so for writes this
 * error means "outcome unknown", never "did not happen".
 */
export function toStoreError(err: unknown, client: ClientState): Error {
  if (err instanceof StoreConflictError || err instanceof StoreUnavailableError || err instanceof RangeError) return err;
  if (err instanceof ReplyError) return new StoreUnavailableError('store rejected the command');
  // Socket errors carry a system `code` (ECONNREFUSED, ECONNRESET, ETIMEDOUT on connect, ...).
  if (err instanceof RedisError || hasCode(err)) return new StoreUnavailableError('store unreachable');
  // ioredis rejects a command past `commandTimeout` with a bare Error and no code, as it does one
  // it could not write: on a connection still up, only the deadline is left.
  if (isBareError(err) && client.status === 'ready' && client.stream?.writable === true) return new StoreUnavailableError('store command timed out');
  return new StoreUnavailableError('store unreachable');
}

/**
 * Wraps every method of `store`, its own and those of its prototypes, so that
 * whatever a method throws or rejects with reaches the caller as
 * `toStoreError(err, client)`: the one place Redis failures are translated.
 * Accessors are left alone. Applied once when the stores are built; a call
 * costs one `catch` on the promise the method returns, no extra await.
 *
 * With `watch` (the store's name and where its observer is), each call is also
 * timed and reported as `<name>.<method>`: ioredis has no command hooks, and
 * this is the one place every store call passes.
 */
export function guardStore<T extends object>(
  store: T,
  client: ClientState,
  watch?: { name: string; observer: () => StoreObserver | undefined },
  timeoutMs?: number,
  liveness?: StoreLiveness,
): T {
  const fail = (err: unknown): never => {
    throw toStoreError(err, client);
  };
  const done = new Set<string | symbol>(['constructor']);
  for (let layer: object | null = store; layer !== null && layer !== Object.prototype; layer = Object.getPrototypeOf(layer) as object | null) {
    for (const name of Reflect.ownKeys(layer)) {
      if (done.has(name)) continue;
      done.add(name);
      const desc = Object.getOwnPropertyDescriptor(layer, name);
      if (typeof desc?.value !== 'function') continue;
      const method = guarded(desc.value as (...args: unknown[]) => unknown, fail, timeoutMs, liveness);
      const value = watch && typeof name === 'string' ? timed(method, `${watch.name}.${name}`, watch.observer) : method;
      Object.defineProperty(store, name, { ...desc, value });
    }
  }
  return store;
}

/**
 * Bounded by the request's store budget (src/store/budget.ts), else by `timeoutMs` when given;
 * each answer (a value, or an error Redis sent back) is reported to `liveness`.
 */
function guarded(method: (...args: unknown[]) => unknown, fail: (err: unknown) => never, timeoutMs?: number, liveness?: StoreLiveness) {
  const answered = (err: unknown) => {
    if (err instanceof ReplyError || err instanceof StoreConflictError) liveness?.answered();
    return fail(err);
  };
  return function (this: unknown, ...args: unknown[]): unknown {
    let result: unknown;
    try {
      result = method.apply(this, args);
    } catch (err) {
      return fail(err);
    }
    if (!(result instanceof Promise)) return result;
    const settled = liveness ? result.then((value: unknown) => (liveness.answered(), value), answered) : result.catch(fail);
    return withinBudget(settled, { fallbackMs: timeoutMs, liveness });
  };
}

function timed(method: (...args: unknown[]) => unknown, label: string, observer: () => StoreObserver | undefined) {
  return function (this: unknown, ...args: unknown[]): unknown {
    const watcher = observer();
    if (watcher === undefined) return method.apply(this, args);
    const started = performance.now();
    const report = (ok: boolean) => watcher.command(label, (performance.now() - started) / 1000, ok);
    let result: unknown;
    try {
      result = method.apply(this, args);
    } catch (err) {
      report(false);
      throw err;
    }
    if (!(result instanceof Promise)) {
      report(true);
      return result;
    }
    return result.then(
      (value: unknown) => {
        report(true);
        return value;
      },
      (err: unknown) => {
        report(false);
        throw err;
      },
    );
  };
}

function hasCode(err: unknown): boolean {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string';
}

function isBareError(err: unknown): boolean {
  return err instanceof Error && Object.getPrototypeOf(err) === Error.prototype;
}

/** Unwraps a pipeline reply, surfacing the first per-command error. */
export function throwFirstError(replies: [Error | null, unknown][] | null): unknown[] {
  if (replies === null) throw new StoreUnavailableError('store transaction aborted');
  return replies.map(([err, value]) => {
    if (err !== null) throw err;
    return value;
  });
}
