import type { Page } from '../page.js';
import {
  deliveryOrder,
  KEEP_FINISHED_DELIVERIES,
  type AttemptResult,
  type DeliveryFilter,
  type NewDelivery,
  type WebhookDelivery,
  type WebhookQueue,
} from '../webhook-queue.js';

interface Entry {
  delivery: WebhookDelivery;
  lease?: string;
}

const copy = (e: Entry): WebhookDelivery => ({ ...e.delivery });

/** In-memory WebhookQueue; claims are synchronous, so two workers cannot take one delivery. */
export class MemoryWebhookQueue implements WebhookQueue {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly keepFinished = KEEP_FINISHED_DELIVERIES) {}

  async enqueue(delivery: NewDelivery): Promise<boolean> {
    if (this.#entries.has(delivery.id)) return false;
    this.#entries.set(delivery.id, { delivery: { ...delivery, status: 'pending', attempts: 0, nextAttemptAt: delivery.createdAt } });
    return true;
  }

  async claimDue(endpoint: string, now: number, limit: number, leaseMs: number, lease: string): Promise<WebhookDelivery[]> {
    const due = [...this.#entries.values()]
      .filter(({ delivery: d }) => d.endpoint === endpoint && d.status === 'pending' && (d.nextAttemptAt ?? 0) <= now)
      .sort((a, b) => (a.delivery.nextAttemptAt ?? 0) - (b.delivery.nextAttemptAt ?? 0) || (a.delivery.id < b.delivery.id ? -1 : 1))
      .slice(0, Math.max(0, limit));
    for (const entry of due) {
      entry.lease = lease;
      entry.delivery.attempts += 1;
      entry.delivery.nextAttemptAt = now + leaseMs;
    }
    return due.map(copy);
  }

  async finish(id: string, lease: string, result: AttemptResult): Promise<boolean> {
    const entry = this.#entries.get(id);
    if (!entry || entry.lease !== lease) return false;
    delete entry.lease;
    const { nextAttemptAt: _next, lastError, finishedAt: _finished, ...rest } = entry.delivery;
    const error = 'error' in result ? result.error : lastError;
    entry.delivery = {
      ...rest,
      status: result.status,
      lastAttemptAt: result.at,
      ...(error !== undefined && { lastError: error }),
      ...(result.status === 'pending' ? { nextAttemptAt: result.nextAttemptAt } : { finishedAt: result.at }),
    };
    if (result.status !== 'pending') this.#trim(result.status);
    return true;
  }

  async get(id: string): Promise<WebhookDelivery | null> {
    const entry = this.#entries.get(id);
    return entry ? copy(entry) : null;
  }

  async list(filter: DeliveryFilter, limit: number, cursor?: string): Promise<Page<WebhookDelivery>> {
    const after = cursor === undefined ? undefined : Buffer.from(cursor, 'base64url').toString();
    const matching = [...this.#entries.values()]
      .map(copy)
      .filter((d) => filter.status === undefined || d.status === filter.status)
      .filter((d) => after === undefined || deliveryOrder(d) < after)
      .sort((a, b) => (deliveryOrder(a) < deliveryOrder(b) ? 1 : -1));
    const items = matching.slice(0, limit);
    const last = items.at(-1);
    return matching.length > limit && last ? { items, next: Buffer.from(deliveryOrder(last)).toString('base64url') } : { items };
  }

  async redeliver(id: string, now: number): Promise<boolean> {
    const entry = this.#entries.get(id);
    if (!entry || entry.delivery.status === 'pending') return false;
    const { finishedAt: _finished, ...rest } = entry.delivery;
    entry.delivery = { ...rest, status: 'pending', attempts: 0, nextAttemptAt: now };
    return true;
  }

  #trim(status: 'delivered' | 'dead'): void {
    const finished = [...this.#entries.values()]
      .filter((e) => e.delivery.status === status)
      .sort((a, b) => (deliveryOrder(a.delivery) < deliveryOrder(b.delivery) ? -1 : 1));
    for (const entry of finished.slice(0, Math.max(0, finished.length - this.keepFinished))) this.#entries.delete(entry.delivery.id);
  }
}
