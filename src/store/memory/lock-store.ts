import { randomBytes } from 'node:crypto';
import { ttlToMs } from '../validation.js';
import type { LockStore } from '../lock-store.js';
import { ExpiringMap } from './expiring-map.js';

/** In-memory LockStore with owner tokens and expiry, mirroring `SET NX PX` + compare-and-delete. */
export class MemoryLockStore implements LockStore {
  readonly #owners = new ExpiringMap<string>();

  async acquire(name: string, ttlMs: number): Promise<string | null> {
    const ttl = ttlToMs(ttlMs);
    if (this.#owners.get(name) !== undefined) return null;
    const owner = randomBytes(16).toString('base64url');
    this.#owners.set(name, owner, ttl);
    return owner;
  }

  async release(name: string, owner: string): Promise<boolean> {
    if (this.#owners.get(name) !== owner) return false;
    return this.#owners.delete(name);
  }

  async extend(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const ttl = ttlToMs(ttlMs);
    if (this.#owners.get(name) !== owner) return false;
    this.#owners.set(name, owner, ttl);
    return true;
  }
}
