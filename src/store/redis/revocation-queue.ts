import type { PendingRevocation, RevocationQueue } from '../revocation-queue.js';
import { throwFirstError } from './errors.js';
import type { RedisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

type Fixed = Omit<PendingRevocation, 'attempts' | 'nextAttemptAt' | 'lastError'>;
interface Meta {
  attempts: number;
  lastError?: string;
}

/**
 * Redis RevocationQueue, all under the `{revq}` hash tag: `items` (id -> the
 * fixed part as JSON, holding only ciphertext), `meta` (id -> attempts and
 * last error) and `due` (id -> next attempt time), so claiming and leasing is
 * one script.
 */
export class RedisRevocationQueue implements RevocationQueue {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: RedisKeys,
  ) {}

  async enqueue(item: PendingRevocation): Promise<void> {
    const { attempts, nextAttemptAt, lastError, ...fixed } = item;
    const meta: Meta = { attempts, ...(lastError !== undefined ? { lastError } : {}) };
    throwFirstError(
      await this.redis
        .multi()
        .hset(this.keys.revocationItems(), item.id, JSON.stringify(fixed))
        .hset(this.keys.revocationMeta(), item.id, JSON.stringify(meta))
        .zadd(this.keys.revocationDue(), nextAttemptAt, item.id)
        .exec(),
    );
  }

  async claimDue(now: number, limit: number, leaseMs: number): Promise<PendingRevocation[]> {
    if (limit <= 0) return [];
    const leaseUntil = now + leaseMs;
    const flat = await this.redis.tvClaimRevocations(
      this.keys.revocationDue(),
      this.keys.revocationItems(),
      this.keys.revocationMeta(),
      now,
      limit,
      leaseUntil,
    );
    const items: PendingRevocation[] = [];
    for (let i = 0; i < flat.length; i += 2) items.push(decode(flat[i]!, flat[i + 1] ?? '', leaseUntil));
    return items;
  }

  async reschedule(id: string, attempts: number, nextAttemptAt: number, lastError: string): Promise<void> {
    await this.redis.tvRescheduleRevocation(
      this.keys.revocationDue(),
      this.keys.revocationItems(),
      this.keys.revocationMeta(),
      id,
      nextAttemptAt,
      JSON.stringify({ attempts, lastError } satisfies Meta),
    );
  }

  async complete(id: string): Promise<void> {
    throwFirstError(
      await this.redis.multi().zrem(this.keys.revocationDue(), id).hdel(this.keys.revocationItems(), id).hdel(this.keys.revocationMeta(), id).exec(),
    );
  }

  async list(): Promise<PendingRevocation[]> {
    const scored = await this.redis.zrange(this.keys.revocationDue(), '0', '-1', 'WITHSCORES');
    const ids = scored.filter((_, i) => i % 2 === 0);
    if (ids.length === 0) return [];
    const [jsons, metas] = await Promise.all([this.redis.hmget(this.keys.revocationItems(), ...ids), this.redis.hmget(this.keys.revocationMeta(), ...ids)]);
    const items: PendingRevocation[] = [];
    ids.forEach((_, i) => {
      const json = jsons[i];
      if (json) items.push(decode(json, metas[i] ?? '', Number(scored[2 * i + 1])));
    });
    return items;
  }
}

function decode(json: string, metaJson: string, nextAttemptAt: number): PendingRevocation {
  const fixed = JSON.parse(json) as Fixed;
  const meta: Meta = metaJson ? (JSON.parse(metaJson) as Meta) : { attempts: 0 };
  return { ...fixed, attempts: meta.attempts, nextAttemptAt, ...(meta.lastError !== undefined ? { lastError: meta.lastError } : {}) };
}
