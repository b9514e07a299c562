import { randomBytes } from 'node:crypto';
import { ttlToMs } from '../validation.js';
import type { LockStore } from '../lock-store.js';
import type { RedisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';
import { LOCK_BACKSTOP_MS } from '../lock-store.js';

/**
 * Single-instance owner-token lock (one string per lock, compare-and-set scripts: lock-scripts.ts).
 * It makes a refresh single-flight; the version CAS in commitRefresh keeps the grant consistent,
 * so this is deliberately not Redlock (docs/architecture.md#data-model-in-redis). A lapsed lease
 * changes hands only after a grace with the store answering, so a holder that outlived it in a
 * store outage keeps it when the store comes back (lock-scripts.ts).
 */
export class RedisLockStore implements LockStore {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: RedisKeys,
  ) {}

  async acquire(name: string, ttlMs: number): Promise<string | null> {
    const ttl = ttlToMs(ttlMs);
    const owner = randomBytes(16).toString('base64url');
    return (await this.redis.tvAcquireLock(this.keys.lock(name), owner, ttl, LOCK_BACKSTOP_MS)) === 1 ? owner : null;
  }

  async release(name: string, owner: string): Promise<boolean> {
    return (await this.redis.tvReleaseLock(this.keys.lock(name), owner)) === 1;
  }

  async extend(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.tvExtendLock(this.keys.lock(name), owner, ttlToMs(ttlMs), LOCK_BACKSTOP_MS)) === 1;
  }
}
