import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Stores } from '../../src/store/stores.js';
import { UNPROVEN } from '../../src/store/token-store.js';
import { tokenFixture } from './fixtures.js';

/** TokenStore behaviour: TTLs, atomic consume under contention, access-token cache. */
export function describeTokenStoreContract(stores: () => Stores): void {
  describe('operation tokens', () => {
    it('stores a record and reads it back', async () => {
      const record = tokenFixture({ usesLeft: 2 });
      await stores().tokens.put(record, 60_000);
      expect(await stores().tokens.get(record.jti)).toStrictEqual(record);
      expect(await stores().tokens.get('unknown')).toBeNull();
    });

    it('forgets a record after its TTL', async () => {
      const record = tokenFixture();
      await stores().tokens.put(record, 150);
      await sleep(300);
      expect(await stores().tokens.get(record.jti)).toBeNull();
      expect(await stores().tokens.consume(record.jti)).toBeNull();
    });

    it('spends a multi-use token one use at a time, returning the record before spending', async () => {
      const record = tokenFixture({ usesLeft: 3 });
      await stores().tokens.put(record, 60_000);
      expect(await stores().tokens.consume(record.jti)).toStrictEqual({ ...record, usesLeft: 3 });
      expect(await stores().tokens.get(record.jti)).toStrictEqual({ ...record, usesLeft: 2 });
      expect(await stores().tokens.consume(record.jti)).toStrictEqual({ ...record, usesLeft: 2 });
      expect(await stores().tokens.consume(record.jti)).toStrictEqual({ ...record, usesLeft: 1 });
      expect(await stores().tokens.consume(record.jti)).toBeNull();
      expect(await stores().tokens.get(record.jti)).toBeNull();
      expect(await stores().tokens.consume('unknown')).toBeNull();
    });

    it("keeps a multi-use record's TTL when a use is spent", async () => {
      const record = tokenFixture({ usesLeft: 3 });
      await stores().tokens.put(record, 200);
      expect(await stores().tokens.consume(record.jti)).not.toBeNull();
      await sleep(350);
      expect(await stores().tokens.get(record.jti)).toBeNull();
      expect(await stores().tokens.consume(record.jti)).toBeNull();
    });

    it('lets exactly one of 100 concurrent consumers spend a single-use token', async () => {
      const record = tokenFixture({ usesLeft: 1 });
      await stores().tokens.put(record, 60_000);
      const results = await Promise.all(Array.from({ length: 100 }, () => stores().tokens.consume(record.jti)));
      expect(results.filter((r) => r !== null)).toHaveLength(1);
    });

    it('lets exactly five of 50 concurrent consumers spend a five-use token', async () => {
      const record = tokenFixture({ usesLeft: 5 });
      await stores().tokens.put(record, 60_000);
      const results = await Promise.all(Array.from({ length: 50 }, () => stores().tokens.consume(record.jti)));
      const spent = results.filter((r) => r !== null && r !== UNPROVEN);
      expect(spent.map((r) => r.usesLeft).sort()).toStrictEqual([1, 2, 3, 4, 5]);
    });

    it('spends a use for the proof its record holds, and for no other proof', async () => {
      const record = tokenFixture({ usesLeft: 2, proof: 'cHJvb2Ytb2YtdGhlLW1pbnRlZC10b2tlbg' });
      await stores().tokens.put(record, 60_000);
      expect(await stores().tokens.get(record.jti)).toStrictEqual(record);
      expect(await stores().tokens.consume(record.jti, 'b3RoZXItcHJvb2Y')).toBe(UNPROVEN);
      expect(await stores().tokens.consume(record.jti, record.proof)).toStrictEqual(record);
      expect(await stores().tokens.get(record.jti)).toStrictEqual({ ...record, usesLeft: 1 });
      expect(await stores().tokens.consume('unknown', record.proof)).toBeNull();
    });

    it('spends nothing for a proof when the record holds none (checked by signature instead)', async () => {
      const record = tokenFixture({ usesLeft: 1 });
      await stores().tokens.put(record, 60_000);
      expect(await stores().tokens.consume(record.jti, 'c29tZS1wcm9vZg')).toBe(UNPROVEN);
      expect(await stores().tokens.consume(record.jti)).toStrictEqual(record);
      expect(await stores().tokens.consume(record.jti)).toBeNull();
    });

    it('lets exactly one of 50 concurrent consumers with the proof spend a single-use token', async () => {
      const record = tokenFixture({ usesLeft: 1, proof: 'c2luZ2xlLXVzZS1wcm9vZg' });
      await stores().tokens.put(record, 60_000);
      const results = await Promise.all(Array.from({ length: 50 }, () => stores().tokens.consume(record.jti, record.proof)));
      expect(results.filter((r) => r !== null)).toStrictEqual([record]);
    });

    it('caches an access token until its TTL and drops it on request', async () => {
      const entry = { ciphertext: 'v1.k1.access', expiresAt: Date.now() + 1_800_000, grantVersion: 7 };
      expect(await stores().tokens.getAccessToken('g-at')).toBeNull();
      await stores().tokens.cacheAccessToken('g-at', entry, 60_000);
      expect(await stores().tokens.getAccessToken('g-at')).toStrictEqual(entry);
      await stores().tokens.dropAccessToken('g-at');
      expect(await stores().tokens.getAccessToken('g-at')).toBeNull();
      await stores().tokens.dropAccessToken('g-at');

      await stores().tokens.cacheAccessToken('g-at', entry, 150);
      await sleep(300);
      expect(await stores().tokens.getAccessToken('g-at')).toBeNull();
    });

    it('rejects a non-positive TTL instead of storing a record that never expires', async () => {
      await expect(stores().tokens.put(tokenFixture(), 0)).rejects.toBeInstanceOf(RangeError);
      await expect(stores().locks.acquire('l', -1)).rejects.toBeInstanceOf(RangeError);
    });
  });
}
