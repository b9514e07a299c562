import type { Page } from '../page.js';
import {
  deliveryOrder,
  KEEP_FINISHED_DELIVERIES,
  type AttemptResult,
  type DeliveryFilter,
  type DeliveryStatus,
  type NewDelivery,
  type WebhookDelivery,
  type WebhookQueue,
} from '../webhook-queue.js';
import { throwFirstError } from './errors.js';
import type { RedisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

/** What a finished attempt leaves besides the status (the `meta` hash). */
interface Meta {
  lastError?: string;
  lastAttemptAt?: number;
  finishedAt?: number;
}

/**
 * Redis WebhookQueue, every key under the `{wh}` hash tag (store/redis/keys.ts): the fixed part
 * of each delivery (`items`), its status, attempt count, lease and last outcome (one hash each),
 * one due set per endpoint (so a slow endpoint's backlog never sits in front of another's) and
 * the listings by status, lexically ordered by creation time.
 */
export class RedisWebhookQueue implements WebhookQueue {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: RedisKeys,
    private readonly keepFinished = KEEP_FINISHED_DELIVERIES,
  ) {}

  async enqueue(delivery: NewDelivery): Promise<boolean> {
    const k = this.keys;
    const fixed: NewDelivery = { ...delivery };
    const added = await this.redis.tvWebhookEnqueue(
      ...[k.webhookItems(), k.webhookStatus(), k.webhookAttempts(), k.webhookDue(delivery.endpoint), k.webhookIndex('pending'), k.webhookIndex('all')],
      ...[delivery.id, JSON.stringify(fixed), delivery.createdAt, deliveryOrder(delivery)],
    );
    return added === 1;
  }

  async claimDue(endpoint: string, now: number, limit: number, leaseMs: number, lease: string): Promise<WebhookDelivery[]> {
    if (limit <= 0) return [];
    const k = this.keys;
    const leaseUntil = now + leaseMs;
    const flat = await this.redis.tvWebhookClaim(
      ...[k.webhookDue(endpoint), k.webhookItems(), k.webhookStatus(), k.webhookAttempts(), k.webhookLease(), k.webhookMeta()],
      ...[now, limit, leaseUntil, lease],
    );
    const out: WebhookDelivery[] = [];
    for (let i = 0; i < flat.length; i += 3) out.push(decode(flat[i]!, 'pending', Number(flat[i + 1]), flat[i + 2] ?? '', leaseUntil));
    return out;
  }

  async finish(id: string, lease: string, result: AttemptResult): Promise<boolean> {
    const k = this.keys;
    const [fixedJson, metaJson] = await Promise.all([this.redis.hget(k.webhookItems(), id), this.redis.hget(k.webhookMeta(), id)]);
    if (fixedJson === null) return false;
    const fixed = JSON.parse(fixedJson) as NewDelivery;
    const before = metaJson ? (JSON.parse(metaJson) as Meta) : {};
    const error = 'error' in result ? result.error : before.lastError;
    const meta: Meta = {
      ...(error !== undefined && { lastError: error }),
      lastAttemptAt: result.at,
      ...(result.status !== 'pending' && { finishedAt: result.at }),
    };
    const done = await this.redis.tvWebhookFinish(
      ...[k.webhookDue(fixed.endpoint), k.webhookStatus(), k.webhookLease(), k.webhookMeta(), k.webhookIndex('pending'), k.webhookIndex('delivered')],
      ...[k.webhookIndex('dead'), k.webhookItems(), k.webhookAttempts(), k.webhookIndex('all')],
      ...[id, lease, result.status, result.status === 'pending' ? result.nextAttemptAt : '', JSON.stringify(meta), deliveryOrder(fixed), this.keepFinished],
    );
    return done === 1;
  }

  async get(id: string): Promise<WebhookDelivery | null> {
    const [found] = await this.#read([id]);
    return found ?? null;
  }

  async list(filter: DeliveryFilter, limit: number, cursor?: string): Promise<Page<WebhookDelivery>> {
    const from = cursor === undefined ? '+' : `(${Buffer.from(cursor, 'base64url').toString()}`;
    const members = await this.redis.zrevrangebylex(this.keys.webhookIndex(filter.status ?? 'all'), from, '-', 'LIMIT', 0, limit + 1);
    const page = members.slice(0, limit);
    const items = await this.#read(page.map((m) => m.slice(16)));
    const last = page.at(-1);
    return members.length > limit && last !== undefined ? { items, next: Buffer.from(last).toString('base64url') } : { items };
  }

  async redeliver(id: string, now: number): Promise<boolean> {
    const k = this.keys;
    const json = await this.redis.hget(k.webhookItems(), id);
    if (json === null) return false;
    const fixed = JSON.parse(json) as NewDelivery;
    const done = await this.redis.tvWebhookRedeliver(
      ...[k.webhookStatus(), k.webhookAttempts(), k.webhookDue(fixed.endpoint), k.webhookIndex('pending'), k.webhookIndex('delivered'), k.webhookIndex('dead')],
      ...[id, now, deliveryOrder(fixed)],
    );
    return done === 1;
  }

  /** The deliveries still stored among `ids`, in that order (one pipeline, then the due times of pending ones). */
  async #read(ids: string[]): Promise<WebhookDelivery[]> {
    if (ids.length === 0) return [];
    const k = this.keys;
    const [items, statuses, attempts, metas] = throwFirstError(
      await this.redis
        .pipeline()
        .hmget(k.webhookItems(), ...ids)
        .hmget(k.webhookStatus(), ...ids)
        .hmget(k.webhookAttempts(), ...ids)
        .hmget(k.webhookMeta(), ...ids)
        .exec(),
    ) as (string | null)[][];
    const found: { json: string; status: DeliveryStatus; attempts: number; meta: string }[] = [];
    ids.forEach((_, i) => {
      const json = items![i];
      const status = statuses![i] as DeliveryStatus | null;
      if (json && status) found.push({ json, status, attempts: Number(attempts![i] ?? 0), meta: metas![i] ?? '' });
    });
    const pending = found.filter((f) => f.status === 'pending').map((f) => JSON.parse(f.json) as NewDelivery);
    const due =
      pending.length === 0 ? [] : throwFirstError(await pending.reduce((p, d) => p.zscore(k.webhookDue(d.endpoint), d.id), this.redis.pipeline()).exec());
    const dueById = new Map(pending.map((d, i) => [d.id, due[i] as string | null]));
    return found.map((f) => {
      const at = dueById.get((JSON.parse(f.json) as NewDelivery).id);
      return decode(f.json, f.status, f.attempts, f.meta, at == null ? undefined : Number(at));
    });
  }
}

function decode(json: string, status: DeliveryStatus, attempts: number, metaJson: string, nextAttemptAt: number | undefined): WebhookDelivery {
  const fixed = JSON.parse(json) as NewDelivery;
  const { finishedAt, ...meta }: Meta = metaJson ? (JSON.parse(metaJson) as Meta) : {};
  // A redelivered delivery keeps its last outcome's meta until its next attempt ends.
  const end = status === 'pending' ? nextAttemptAt !== undefined && { nextAttemptAt } : finishedAt !== undefined && { finishedAt };
  return { ...fixed, status, attempts, ...meta, ...end };
}
