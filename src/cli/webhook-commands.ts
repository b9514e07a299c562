/**
 * `webhooks` and `webhooks redeliver <id>`: the admin webhook deliveries API
 * (`/admin/webhooks/deliveries`) from the CLI. Deliveries hold ids only, never a secret.
 */
import { callJson } from './admin-http.js';
import { positiveInt, print, UsageError, type Ctx } from './cli-context.js';
import { table } from './table.js';

interface DeliveryView {
  id: string;
  endpoint: string;
  event: string;
  status: string;
  attempts: number;
  createdAt: number;
  nextAttemptAt?: number;
  lastError?: string;
}

const STATUSES = ['pending', 'delivered', 'dead'] as const;

export async function webhooks(ctx: Ctx): Promise<number> {
  const [sub, id, ...extra] = ctx.args;
  if (sub === 'redeliver') {
    if (id === undefined || extra.length > 0) throw new UsageError('webhooks redeliver takes one delivery id');
    const res = await callJson<{ id: string; status: string }>(ctx.conn, 'POST', `/admin/webhooks/deliveries/${encodeURIComponent(id)}/redeliver`);
    return print(ctx, res, () => `delivery ${res.id} is pending again (same webhook-id)`);
  }
  if (sub !== undefined) throw new UsageError(`unknown webhooks command ${sub}`);
  const { status, cursor } = ctx.values;
  if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) throw new UsageError(`--status must be one of ${STATUSES.join(', ')}`);
  const limit = positiveInt('limit', ctx.values.limit);
  const qs = new URLSearchParams();
  for (const [name, value] of Object.entries({ status, cursor, limit: limit?.toString() })) if (value !== undefined) qs.set(name, value);
  const res = await callJson<{ items: DeliveryView[]; next?: string }>(ctx.conn, 'GET', `/admin/webhooks/deliveries${qs.size > 0 ? `?${qs}` : ''}`);
  return print(ctx, res, () => {
    if (res.items.length === 0) return 'no webhook deliveries match';
    const when = (ms: number | undefined) => (ms === undefined ? '' : new Date(ms).toISOString());
    const rows = res.items.map((d) => [d.id, d.endpoint, d.event, d.status, d.attempts, d.lastError, when(d.createdAt), when(d.nextAttemptAt)]);
    const body = table(['id', 'endpoint', 'event', 'status', 'attempts', 'last error', 'created', 'next attempt'], rows);
    return res.next === undefined ? body : `${body}\nmore: --cursor ${res.next}`;
  });
}
