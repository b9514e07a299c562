import { randomBytes } from 'node:crypto';
import { ttlToMs } from '../validation.js';
import type { LockStore } from '../lock-store.js';
import type { RedisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

/**
 * Single-instance owner-token lock (`SET NX PX` + compare-and-delete). It only
 * makes a refresh single-flight; correctness comes from the version CAS in
 * commitRefresh, so this is deliberately not Redlock (docs/architecture.md#data-model-in-redis).
 */
export class RedisLockStore implements LockStore {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: RedisKeys,
  ) {}

  async acquire(name: string, ttlMs: number): Promise<string | null> {
    const ttl = ttlToMs(ttlMs);
    const owner = randomBytes(16).toString('base64url');
    const ok = await this.redis.set(this.keys.lock(name), owner, 'PX', ttl, 'NX');
    return ok === null ? null : owner;
  }

  async release(name: string, owner: string): Promise<boolean> {
    return (await this.redis.tvReleaseLock(this.keys.lock(name), owner)) === 1;
  }

  async extend(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.tvExtendLock(this.keys.lock(name), owner, ttlToMs(ttlMs))) === 1;
  }
}
