import { describe, expect, it } from 'vitest';
import type { Stores } from '../../src/store/stores.js';
import type { NewDelivery, WebhookDelivery } from '../../src/store/webhook-queue.js';

const delivery = (id: string, createdAt: number, endpoint = 'siem'): NewDelivery => ({
  id,
  messageId: `msg_${id}`,
  endpoint,
  event: 'grant.revoked',
  body: JSON.stringify({ type: 'grant.revoked', data: { grant: `g-${id}` } }),
  createdAt,
});

const pending = (d: NewDelivery, attempts: number, nextAttemptAt: number, extra: Partial<WebhookDelivery> = {}): WebhookDelivery => ({
  ...d,
  status: 'pending',
  attempts,
  nextAttemptAt,
  ...extra,
});

/** WebhookQueue behaviour: idempotent enqueue, leased claims per endpoint, outcomes, listings, redelivery. */
export function describeWebhookQueueContract(stores: () => Stores): void {
  describe('webhook queue', () => {
    it('enqueues an id once and hands out one endpoint’s due deliveries, leased and counted', async () => {
      const q = stores().webhooks;
      const [a, b, c] = [delivery('a', 1_000), delivery('b', 1_500), delivery('c', 1_200, 'pager')];
      expect(await q.enqueue(a)).toBe(true);
      expect(await q.enqueue({ ...a, body: '{}' })).toBe(false);
      await q.enqueue(b);
      await q.enqueue(c);
      expect(await q.claimDue('siem', 1_200, 10, 30_000, 'lease-1')).toStrictEqual([pending(a, 1, 31_200)]);
      // Leased: not handed out again before the lease ends; the other endpoint's queue is its own.
      expect(await q.claimDue('siem', 2_000, 10, 30_000, 'lease-2')).toStrictEqual([pending(b, 1, 32_000)]);
      expect(await q.claimDue('pager', 2_000, 10, 30_000, 'lease-3')).toStrictEqual([pending(c, 1, 32_000)]);
      expect(await q.claimDue('siem', 31_200, 10, 30_000, 'lease-4')).toStrictEqual([pending(a, 2, 61_200)]);
    });

    it('records outcomes only under the lease that holds the delivery', async () => {
      const q = stores().webhooks;
      const d = delivery('d', 1_000);
      await q.enqueue(d);
      await q.claimDue('siem', 1_000, 10, 5_000, 'first');
      expect(await q.finish('d', 'first', { status: 'pending', at: 1_100, error: 'http_500', nextAttemptAt: 3_000 })).toBe(true);
      expect(await q.finish('d', 'first', { status: 'delivered', at: 1_200 })).toBe(false);
      expect(await q.get('d')).toStrictEqual(pending(d, 1, 3_000, { lastError: 'http_500', lastAttemptAt: 1_100 }));
      expect(await q.claimDue('siem', 2_999, 10, 5_000, 'early')).toStrictEqual([]);
      await q.claimDue('siem', 3_000, 10, 5_000, 'second');
      expect(await q.finish('d', 'second', { status: 'delivered', at: 3_100 })).toBe(true);
      const delivered: WebhookDelivery = { ...d, status: 'delivered', attempts: 2, lastError: 'http_500', lastAttemptAt: 3_100, finishedAt: 3_100 };
      expect(await q.get('d')).toStrictEqual(delivered);
      expect(await q.claimDue('siem', 99_000, 10, 5_000, 'third')).toStrictEqual([]);
      expect(await q.get('unknown')).toBeNull();
    });

    it('dead-letters, lists by status newest first with a cursor, and redelivers with the same message id', async () => {
      const q = stores().webhooks;
      const [x, y, z] = [delivery('x', 1_000), delivery('y', 2_000), delivery('z', 3_000)];
      for (const d of [x, y, z]) await q.enqueue(d);
      await q.claimDue('siem', 1_000, 1, 5_000, 'l');
      await q.finish('x', 'l', { status: 'dead', at: 1_500, error: 'timeout' });
      const dead: WebhookDelivery = { ...x, status: 'dead', attempts: 1, lastError: 'timeout', lastAttemptAt: 1_500, finishedAt: 1_500 };
      expect(await q.list({ status: 'dead' }, 10)).toStrictEqual({ items: [dead] });
      const first = await q.list({}, 2);
      expect(first.items.map((d) => d.id)).toStrictEqual(['z', 'y']);
      expect(await q.list({}, 2, first.next)).toStrictEqual({ items: [dead] });
      expect((await q.list({ status: 'pending' }, 10)).items.map((d) => d.id)).toStrictEqual(['z', 'y']);

      expect(await q.redeliver('x', 9_000)).toBe(true);
      expect(await q.redeliver('x', 9_000)).toBe(false);
      expect(await q.redeliver('unknown', 9_000)).toBe(false);
      expect(await q.list({ status: 'dead' }, 10)).toStrictEqual({ items: [] });
      const again = await q.claimDue('siem', 9_000, 10, 5_000, 'l2');
      expect(again.map((d) => [d.id, d.messageId, d.attempts])).toStrictEqual([
        ['y', 'msg_y', 1],
        ['z', 'msg_z', 1],
        ['x', 'msg_x', 1],
      ]);
    });

    it('lets one of several concurrent workers claim a delivery', async () => {
      const q = stores().webhooks;
      await q.enqueue(delivery('once', 1_000));
      const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => q.claimDue('siem', 1_000, 10, 60_000, `w${i}`)));
      expect(claims.flat()).toHaveLength(1);
    });
  });
}
