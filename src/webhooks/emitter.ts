/**
 * The WebhookEmitter of a running vault: one message per event (one `webhook-id`), queued once
 * per endpoint subscribed to its type. The body follows the Standard Webhooks payload shape
 * (`type`, `timestamp`, `data`) and is signed as queued on every attempt (delivery-worker.ts).
 */
import type { FastifyBaseLogger } from 'fastify';
import { pooledRandomId } from '../crypto/random-ids.js';
import type { WebhookQueue } from '../store/webhook-queue.js';
import type { WebhookEndpoint } from './endpoints.js';
import type { WebhookEmitter, WebhookEvent } from './events.js';

/** Outcomes counted per event type and endpoint name (the app's metrics; never a URL or an id). */
export type DeliveryOutcome = 'queued' | 'enqueue_failed' | 'delivered' | 'retried' | 'dead';

export interface WebhookMetrics {
  delivery(event: string, endpoint: string, outcome: DeliveryOutcome): void;
}

export interface EmitterDeps {
  queue: WebhookQueue;
  endpoints: readonly Pick<WebhookEndpoint, 'name' | 'events'>[];
  log: FastifyBaseLogger;
  metrics?: WebhookMetrics | undefined;
  now?: () => number;
}

export function createWebhookEmitter(deps: EmitterDeps): WebhookEmitter {
  const now = deps.now ?? Date.now;
  return {
    async emit(event: WebhookEvent): Promise<void> {
      const targets = deps.endpoints.filter((e) => e.events.has(event.type));
      if (targets.length === 0) return;
      const createdAt = now();
      const messageId = `msg_${pooledRandomId(16)}`;
      const body = JSON.stringify({ type: event.type, timestamp: new Date(createdAt).toISOString(), data: event.data });
      await Promise.all(
        targets.map(async ({ name }) => {
          try {
            await deps.queue.enqueue({ id: `${messageId}.${name}`, messageId, endpoint: name, event: event.type, body, createdAt });
            deps.metrics?.delivery(event.type, name, 'queued');
          } catch (err) {
            // The state change this event reports is already durable; the request it belongs to goes on.
            deps.log.error(
              { webhook: event.type, endpoint: name, err: { type: err instanceof Error ? err.name : 'unknown' } },
              'webhook event could not be queued',
            );
            deps.metrics?.delivery(event.type, name, 'enqueue_failed');
          }
        }),
      );
    },
  };
}
