import { StoreConflictError, StoreUnavailableError } from '../errors.js';

/**
 * Maps anything thrown on the Redis path to StoreUnavailableError so callers
 * fail closed with 503. Messages are static and the original error is not
 * attached: Redis and parser messages can quote keys or stored values.
 *
 * A timed-out write may still run once Redis catches up, so for writes this
 * error means "outcome unknown", never "did not happen".
 */
export function toStoreError(err: unknown): Error {
  if (err instanceof StoreConflictError || err instanceof StoreUnavailableError) {
    return err;
  }
  const message = err instanceof Error ? err.message : '';
  if (message.startsWith('Command timed out')) return new StoreUnavailableError('store command timed out');
  if (err instanceof Error && err.name === 'ReplyError') return new StoreUnavailableError('store rejected the command');
  return new StoreUnavailableError('store unreachable');
}

/** Unwraps a pipeline reply, surfacing the first per-command error. */
export function throwFirstError(replies: [Error | null, unknown][] | null): unknown[] {
  if (replies === null) throw new StoreUnavailableError('store transaction aborted');
  return replies.map(([err, value]) => {
    if (err !== null) throw err;
    return value;
  });
}
