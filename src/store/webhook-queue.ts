/** Outgoing webhook deliveries: queued by webhooks/emitter.ts, sent by webhooks/delivery-worker.ts. */
import type { Page } from './page.js';

export const DELIVERY_STATUSES = ['pending', 'delivered', 'dead'] as const;
/** `pending`: due or being attempted; `delivered`: a 2xx answer; `dead`: attempts used up (kept for the admin API). */
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** One event for one endpoint, as queued. Its body holds ids only (webhooks/events.ts), never a secret. */
export interface NewDelivery {
  /** Unique per event and endpoint; enqueueing an id twice changes nothing. */
  id: string;
  /** The Standard Webhooks `webhook-id`: the same on every attempt, so a receiver can drop repeats. */
  messageId: string;
  /** The configured endpoint's name (config `webhooks.endpoints[].name`). */
  endpoint: string;
  event: string;
  /** The JSON body, signed and sent byte for byte on every attempt. */
  body: string;
  /** Epoch ms. */
  createdAt: number;
}

export interface WebhookDelivery extends NewDelivery {
  status: DeliveryStatus;
  /** Attempts started (a claim counts one, also when its worker dies before finishing). */
  attempts: number;
  /** Pending only: epoch ms of the next attempt (or of the running attempt's lease end). */
  nextAttemptAt?: number;
  /** Short machine reason of the last failed attempt (`http_500`, `timeout`, `unreachable`, ...). */
  lastError?: string;
  lastAttemptAt?: number;
  /** When it was delivered or given up. */
  finishedAt?: number;
}

/** How a claimed attempt ended. */
export type AttemptResult =
  { status: 'delivered'; at: number } | { status: 'pending'; at: number; error: string; nextAttemptAt: number } | { status: 'dead'; at: number; error: string };

export interface DeliveryFilter {
  status?: DeliveryStatus;
}

export interface WebhookQueue {
  /** Adds a delivery, due at once. False (and nothing changes) when its id is already queued. */
  enqueue(delivery: NewDelivery): Promise<boolean>;
  /**
   * Up to `limit` pending deliveries of one endpoint due at `now`, soonest first, each leased to
   * `lease` until now + leaseMs and its attempt counted, in one atomic step: two workers never
   * attempt one delivery at once; a worker that dies leaves it to be claimed again after the lease.
   */
  claimDue(endpoint: string, now: number, limit: number, leaseMs: number, lease: string): Promise<WebhookDelivery[]>;
  /** Records a claimed attempt's end. False (nothing changes) unless `lease` still holds the delivery. */
  finish(id: string, lease: string, result: AttemptResult): Promise<boolean>;
  get(id: string): Promise<WebhookDelivery | null>;
  /** Newest first; `limit` per page. */
  list(filter: DeliveryFilter, limit: number, cursor?: string): Promise<Page<WebhookDelivery>>;
  /**
   * A delivered or dead delivery is pending again, due at `now` with the same `webhook-id` and a
   * fresh round of attempts. False when unknown or pending.
   */
  redeliver(id: string, now: number): Promise<boolean>;
}

/** Sort key of a delivery in the listings: creation time (fixed width), then id. */
export function deliveryOrder(d: Pick<NewDelivery, 'id' | 'createdAt'>): string {
  return `${String(d.createdAt).padStart(15, '0')}|${d.id}`;
}

/** Delivered and dead deliveries kept (each) for the admin API; the oldest beyond are dropped. */
export const KEEP_FINISHED_DELIVERIES = 1_000;
