/** Owner-token locks (the refresh single flight). */
export interface LockStore {
  /** Take the lock iff free (`SET NX PX`). Returns an owner token, or null when held by someone else. */
  acquire(name: string, ttlMs: number): Promise<string | null>;
  /** Release only if still owned by `owner` (compare-and-delete). Returns whether it was released. */
  release(name: string, owner: string): Promise<boolean>;
  /** Give the lock `ttlMs` more life only if still owned by `owner` (compare-and-expire). Returns whether it was. */
  extend(name: string, owner: string, ttlMs: number): Promise<boolean>;
}
