/**
 * `/admin/webhooks/deliveries`: what the vault sent to its webhook endpoints (src/webhooks/), or
 * is still trying to send, or gave up on; and redelivery of one message (same `webhook-id`, a
 * fresh round of attempts). A delivery's body holds ids only, never a secret.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditWriter } from '../audit/events.js';
import { NotFound } from '../errors.js';
import { DELIVERY_STATUSES, type WebhookDelivery, type WebhookQueue } from '../store/webhook-queue.js';
import { adminAuditFields } from './audit-context.js';
import { adminErrors, errorBody, pageCursor } from './schemas.js';

export interface WebhookRoutesOptions {
  queue: WebhookQueue;
  audit: AuditWriter;
}

const deliveryView = z.object({
  id: z.string(),
  messageId: z.string(),
  endpoint: z.string(),
  event: z.string(),
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.number().int(),
  createdAt: z.number().int(),
  nextAttemptAt: z.number().int().optional(),
  lastAttemptAt: z.number().int().optional(),
  lastError: z.string().optional(),
  finishedAt: z.number().int().optional(),
  /** The signed JSON body, as sent. */
  payload: z.string(),
});
const listQuery = z.strictObject({
  status: z.enum(DELIVERY_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: pageCursor.optional(),
});
const deliveryId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_.-]+$/, 'a delivery id');

function view(d: WebhookDelivery): z.infer<typeof deliveryView> {
  const { body, ...rest } = d;
  return { ...rest, payload: body };
}

export const webhookRoutes: FastifyPluginAsync<WebhookRoutesOptions> = async (app, { queue, audit }) => {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get(
    '/webhooks/deliveries',
    {
      schema: {
        summary: 'List webhook deliveries, newest first: pending (with their next attempt), delivered, dead',
        tags: ['admin'],
        querystring: listQuery,
        response: { 200: z.object({ items: z.array(deliveryView), next: z.string().optional() }), ...adminErrors },
      },
    },
    async (request) => {
      const { status, limit, cursor } = request.query;
      const page = await queue.list(status === undefined ? {} : { status }, limit, cursor);
      return { items: page.items.map(view), ...(page.next !== undefined && { next: page.next }) };
    },
  );

  routes.post(
    '/webhooks/deliveries/:id/redeliver',
    {
      schema: {
        summary: 'Send a delivered or dead webhook message again (same webhook-id; a pending one answers the same)',
        tags: ['admin'],
        params: z.strictObject({ id: deliveryId }),
        response: { 200: z.object({ id: z.string(), status: z.literal('pending') }), ...adminErrors, 404: errorBody },
      },
    },
    async (request) => {
      const { id } = request.params;
      const delivery = await queue.get(id);
      await audit.record({
        action: 'admin.action',
        decision: delivery === null ? 'deny' : 'allow',
        reason: 'webhook.redeliver',
        ...adminAuditFields(request),
        details: { delivery: id },
      });
      if (delivery === null) throw new NotFound('no such webhook delivery');
      await queue.redeliver(id, Date.now());
      return { id, status: 'pending' as const };
    },
  );
};
