/**
 * How long a lock key may outlive its lease at most (a store outage, a holder that vanished):
 * leases end by their own deadline; this only keeps unreleased keys from piling up.
 */
export const LOCK_BACKSTOP_MS = 24 * 3_600_000;

/** Owner-token locks (the refresh single flight). */
export interface LockStore {
  /**
   * Take the lock iff free, for `ttlMs`. Returns an owner token, or null when held by someone else.
   * A lease that ran out without a release is free only once it has stayed lapsed for `ttlMs` more
   * after a contender first saw it lapsed: its holder may have met a store outage and extends it
   * as soon as the store answers (src/grants/rotations.ts).
   */
  acquire(name: string, ttlMs: number): Promise<string | null>;
  /** Release only if still owned by `owner` (compare-and-delete). Returns whether it was released. */
  release(name: string, owner: string): Promise<boolean>;
  /** Give the lock `ttlMs` more life only if still owned by `owner`, also after a lapse no one took over. Returns whether it was. */
  extend(name: string, owner: string, ttlMs: number): Promise<boolean>;
}
