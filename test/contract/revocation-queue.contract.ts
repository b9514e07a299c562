import { describe, expect, it } from 'vitest';
import type { PendingRevocation } from '../../src/store/revocation-queue.js';
import type { Stores } from '../../src/store/stores.js';

const item = (id: string, nextAttemptAt: number, overrides: Partial<PendingRevocation> = {}): PendingRevocation => ({
  id,
  provider: 'salesforce',
  grantId: `g-${id}`,
  userId: 'https://idp.example#alice',
  token: 'v1.k1.ciphertext-of-refresh-token',
  hint: 'refresh_token',
  attempts: 1,
  nextAttemptAt,
  createdAt: 1_000,
  ...overrides,
});

/** RevocationQueue behaviour: due order, leases, reschedule, completion. */
export function describeRevocationQueueContract(stores: () => Stores): void {
  describe('revocation queue', () => {
    it('hands out due items soonest first and leases them', async () => {
      const q = stores().revocations;
      await q.enqueue(item('b', 2_000));
      await q.enqueue(item('a', 1_500, { lastError: 'timeout' }));
      await q.enqueue(item('c', 9_000));
      expect(await q.claimDue(2_000, 10, 60_000)).toStrictEqual([item('a', 62_000, { lastError: 'timeout' }), item('b', 62_000)]);
      // Leased: not due again until the lease runs out.
      expect(await q.claimDue(10_000, 10, 60_000)).toStrictEqual([item('c', 70_000)]);
      expect((await q.claimDue(62_000, 1, 60_000)).map((i) => i.id)).toStrictEqual(['a']);
    });

    it('reschedules a failed attempt and forgets a completed one', async () => {
      const q = stores().revocations;
      await q.enqueue(item('r', 1_000));
      await q.reschedule('r', 2, 5_000, 'network');
      expect(await q.list()).toStrictEqual([item('r', 5_000, { attempts: 2, lastError: 'network' })]);
      expect(await q.claimDue(4_999, 10, 1_000)).toStrictEqual([]);
      await q.complete('r');
      await q.reschedule('r', 3, 6_000, 'late');
      expect(await q.list()).toStrictEqual([]);
      expect(await q.claimDue(10_000, 10, 1_000)).toStrictEqual([]);
    });

    it('lets one of several concurrent workers claim an item', async () => {
      const q = stores().revocations;
      await q.enqueue(item('x', 1_000));
      const claims = await Promise.all(Array.from({ length: 20 }, () => q.claimDue(1_000, 10, 60_000)));
      expect(claims.flat()).toHaveLength(1);
    });
  });
}
