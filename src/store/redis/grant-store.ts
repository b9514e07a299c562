import { decodeCursor, encodeCursor, matchesGrantFilter } from '../grant-filter.js';
import { StoreConflictError } from '../errors.js';
import type { Grant, GrantFilter, GrantStatus, GrantStore } from '../grant-store.js';
import type { Page } from '../page.js';
import { throwFirstError } from './errors.js';
import { CONSENT_EPOCH_FIELD_PREFIX, CONSENT_FIELD_PREFIX, decodeGrant, encodeGrant } from './grant-codec.js';
import type { RedisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

/**
 * Redis GrantStore. The id and per-user indexes live in other slots than the
 * grant, so they cannot join its atomic step on Cluster. They are written
 * before a grant appears and trimmed after it is gone: an index may briefly
 * name a missing grant (skipped on read) but never misses an existing one, so
 * the security team can always find a grant to revoke.
 */
export class RedisGrantStore implements GrantStore {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: RedisKeys,
  ) {}

  async create(grant: Grant): Promise<void> {
    const [, , created] = await Promise.all([
      this.redis.zadd(this.keys.grantIndex(), 0, grant.id),
      this.redis.sadd(this.keys.userIndex(grant.userId), grant.id),
      this.redis.tvCreateGrant(this.keys.grant(grant.id), ...encodeGrant(grant)),
    ]);
    if (created !== 1) throw new StoreConflictError('grant already exists');
  }

  async get(id: string): Promise<Grant | null> {
    return decodeGrant(await this.redis.hgetall(this.keys.grant(id)));
  }

  async listByUser(userId: string): Promise<Grant[]> {
    const ids = (await this.redis.smembers(this.keys.userIndex(userId))).sort();
    const grants = await this.#load(ids);
    return grants.filter((g): g is Grant => g !== null && g.userId === userId);
  }

  async list(filter: GrantFilter, limit: number, cursor?: string): Promise<Page<Grant>> {
    const after = decodeCursor(cursor);
    if (limit <= 0) return { items: [] };
    const items: Grant[] = [];
    let from = after === undefined ? '-' : `(${after}`;
    // One id past the page tells whether a next page exists without a trailing empty page.
    const batch = Math.max(limit + 1, 32);
    for (;;) {
      const ids = await this.redis.zrangebylex(this.keys.grantIndex(), from, '+', 'LIMIT', 0, batch);
      for (const grant of await this.#load(ids)) {
        if (grant === null || !matchesGrantFilter(grant, filter)) continue;
        if (items.length === limit) {
          const last = items[limit - 1];
          return last === undefined ? { items } : { items, next: encodeCursor(last.id) };
        }
        items.push(grant);
      }
      const lastId = ids[ids.length - 1];
      if (ids.length < batch || lastId === undefined) return { items };
      from = `(${lastId}`;
    }
  }

  async commitRefresh(id: string, expectedVersion: number, refreshToken: string): Promise<number | null> {
    return await this.redis.tvCommitRefresh(this.keys.grant(id), expectedVersion, refreshToken, Date.now());
  }

  async rewrapRefreshToken(id: string, expected: string, rewrapped: string): Promise<boolean> {
    return (await this.redis.tvRewrapRefresh(this.keys.grant(id), expected, rewrapped)) === 1;
  }

  async setStatus(id: string, status: GrantStatus, expectedVersion?: number): Promise<number | null> {
    return await this.redis.tvSetStatus(this.keys.grant(id), status, expectedVersion ?? '', Date.now());
  }

  async setConsent(id: string, agent: string, operations: string[]): Promise<boolean> {
    const ops = operations.length === 0 ? '' : JSON.stringify(operations);
    const ok = await this.redis.tvSetConsent(this.keys.grant(id), CONSENT_FIELD_PREFIX + agent, ops, Date.now(), CONSENT_EPOCH_FIELD_PREFIX + agent);
    return ok === 1;
  }

  async delete(id: string): Promise<boolean> {
    const userId = await this.redis.tvDeleteGrant(this.keys.grant(id), this.keys.accessToken(id));
    const pipe = this.redis.pipeline();
    pipe.zrem(this.keys.grantIndex(), id);
    if (userId !== '') pipe.srem(this.keys.userIndex(userId), id);
    throwFirstError(await pipe.exec());
    return userId !== '';
  }

  async #load(ids: string[]): Promise<(Grant | null)[]> {
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(this.keys.grant(id));
    const replies = throwFirstError(await pipe.exec());
    return replies.map((reply) => decodeGrant(reply as Record<string, string>));
  }
}
