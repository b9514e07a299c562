import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Stores } from '../../src/store/stores.js';

/** LockStore behaviour: one owner at a time, owner-checked release, leases that lapse with a grace. */
export function describeLockStoreContract(stores: () => Stores): void {
  describe('locks', () => {
    it('hands a lock to one owner at a time and releases only for that owner', async () => {
      const owner = await stores().locks.acquire('refresh:g-1', 10_000);
      expect(owner).toBeTypeOf('string');
      expect(await stores().locks.acquire('refresh:g-1', 10_000)).toBeNull();
      expect(await stores().locks.acquire('refresh:g-2', 10_000)).toBeTypeOf('string');
      expect(await stores().locks.release('refresh:g-1', 'not-the-owner')).toBe(false);
      expect(await stores().locks.release('refresh:g-1', owner ?? '')).toBe(true);
      expect(await stores().locks.release('refresh:g-1', owner ?? '')).toBe(false);
      expect(await stores().locks.acquire('refresh:g-1', 10_000)).toBeTypeOf('string');
    });

    it('frees a lapsed lock once it stayed lapsed for a TTL after a contender saw it, and the old owner cannot release the new holder', async () => {
      const first = await stores().locks.acquire('refresh:g-x', 100);
      await sleep(250);
      // The first contender to find the lease lapsed starts the grace; the lock is still held.
      expect(await stores().locks.acquire('refresh:g-x', 100)).toBeNull();
      await sleep(250);
      const second = await stores().locks.acquire('refresh:g-x', 100);
      expect(second).toBeTypeOf('string');
      expect(second).not.toBe(first);
      expect(await stores().locks.release('refresh:g-x', first ?? '')).toBe(false);
      expect(await stores().locks.extend('refresh:g-x', first ?? '', 10_000)).toBe(false);
      expect(await stores().locks.acquire('refresh:g-x', 10_000)).toBeNull();
    });

    it('a holder that outlived its lease (a store outage) keeps the lock by extending it before the grace ends', async () => {
      const owner = await stores().locks.acquire('refresh:g-back', 100);
      await sleep(250);
      expect(await stores().locks.acquire('refresh:g-back', 100)).toBeNull();
      expect(await stores().locks.extend('refresh:g-back', owner ?? '', 100)).toBe(true);
      await sleep(150);
      // Lapsed again: a new grace starts from this sighting, the earlier one does not count.
      expect(await stores().locks.acquire('refresh:g-back', 100)).toBeNull();
      expect(await stores().locks.acquire('refresh:g-back', 100)).toBeNull();
      expect(await stores().locks.release('refresh:g-back', owner ?? '')).toBe(true);
      expect(await stores().locks.acquire('refresh:g-back', 100)).toBeTypeOf('string');
    });

    it('extends a lock only for its owner, and an extended lock outlives its first TTL', async () => {
      const owner = await stores().locks.acquire('refresh:g-ext', 150);
      expect(await stores().locks.extend('refresh:g-ext', 'not-the-owner', 10_000)).toBe(false);
      expect(await stores().locks.extend('refresh:g-ext', owner ?? '', 10_000)).toBe(true);
      await sleep(300);
      expect(await stores().locks.acquire('refresh:g-ext', 10_000)).toBeNull();
      expect(await stores().locks.release('refresh:g-ext', owner ?? '')).toBe(true);
      expect(await stores().locks.extend('refresh:g-ext', owner ?? '', 10_000)).toBe(false);
    });

    it('grants a contended lock to exactly one of many callers', async () => {
      const owners = await Promise.all(Array.from({ length: 30 }, () => stores().locks.acquire('hot', 10_000)));
      expect(owners.filter((o) => o !== null)).toHaveLength(1);
    });
  });
}
