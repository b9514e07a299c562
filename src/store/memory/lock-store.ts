import { randomBytes } from 'node:crypto';
import { ttlToMs } from '../validation.js';
import { LOCK_BACKSTOP_MS, type LockStore } from '../lock-store.js';
import { ExpiringMap } from './expiring-map.js';

interface Lease {
  owner: string;
  until: number;
  /** When a contender first found the lease lapsed. */
  lapseSeen?: number;
}

/** In-memory LockStore mirroring the Redis one (store/redis/lock-scripts.ts): owner tokens, leases, a grace after a lapse. */
export class MemoryLockStore implements LockStore {
  readonly #leases = new ExpiringMap<Lease>();

  async acquire(name: string, ttlMs: number): Promise<string | null> {
    const ttl = ttlToMs(ttlMs);
    const now = Date.now();
    const lease = this.#leases.get(name);
    if (lease !== undefined) {
      if (now < lease.until) return null;
      if (lease.lapseSeen === undefined) {
        lease.lapseSeen = now;
        return null;
      }
      if (now - lease.lapseSeen < ttl) return null;
    }
    const owner = randomBytes(16).toString('base64url');
    this.#leases.set(name, { owner, until: now + ttl }, LOCK_BACKSTOP_MS);
    return owner;
  }

  async release(name: string, owner: string): Promise<boolean> {
    if (this.#leases.get(name)?.owner !== owner) return false;
    return this.#leases.delete(name);
  }

  async extend(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const ttl = ttlToMs(ttlMs);
    if (this.#leases.get(name)?.owner !== owner) return false;
    this.#leases.set(name, { owner, until: Date.now() + ttl }, LOCK_BACKSTOP_MS);
    return true;
  }
}
