import { decodeCursor, encodeCursor, matchesGrantFilter } from '../grant-filter.js';
import { StoreConflictError } from '../errors.js';
import type { Grant, GrantFilter, GrantStatus, GrantStore, GrantTombstone } from '../grant-store.js';
import type { Page } from '../page.js';
import { CONSENT_EPOCH_FIELD_PREFIX, CONSENT_FIELD_PREFIX, decodeGrant, decodeTombstone, encodeGrant } from './grant-codec.js';
import { ttlToMs } from '../validation.js';
import type { RedisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';
import type { ReplicaWaiters } from './replicas.js';

/**
 * Redis GrantStore. The id and per-user indexes (`{u:<sha>}`) live in other slots than the
 * grant, so they cannot join its atomic step on Cluster. They are written
 * before a grant appears and trimmed after it is gone: an index may briefly
 * name a missing grant (skipped on read) but never misses an existing one, so
 * the security team can always find a grant to revoke.
 */
export class RedisGrantStore implements GrantStore {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: RedisKeys,
    /** With `store.redis.minReplicasAck` (replicas.ts): WAIT on the connection to the grant's master. */
    private readonly replicas?: ReplicaWaiters,
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

  async replicated(id: string): Promise<void> {
    await this.replicas?.replicated(this.keys.grant(id));
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
    await Promise.all([this.redis.zrem(this.keys.grantIndex(), id), ...(userId !== '' ? [this.redis.srem(this.keys.userIndex(userId), id)] : [])]);
    return userId !== '';
  }

  /**
   * The tombstone indexes (other slots) are scored by expiry and written first, trimming what has
   * expired: an index may name a tombstone already gone (skipped on read), never miss a live one.
   */
  async markRevoked(id: string, tombstone: GrantTombstone, ttlMs: number): Promise<number | null> {
    const ttl = ttlToMs(ttlMs);
    const now = Date.now();
    const until = now + ttl;
    // Two slots (the global and the user's index): separate commands, not one pipeline, which
    // ioredis keeps to one Cluster node. Each index's trim and add leave in order on its connection.
    await Promise.all(
      [this.keys.tombstoneIndex(), this.keys.userTombstoneIndex(tombstone.userId)].flatMap((index) => [
        this.redis.zremrangebyscore(index, '-inf', now),
        this.redis.zadd(index, until, id),
      ]),
    );
    return await this.redis.tvMarkRevoked(this.keys.grant(id), this.keys.tombstone(id), now, JSON.stringify(tombstone), ttl);
  }

  async getTombstone(id: string): Promise<GrantTombstone | null> {
    const tombstone = decodeTombstone(await this.redis.get(this.keys.tombstone(id)));
    return tombstone?.grantId === id ? tombstone : null;
  }

  async tombstonesByUser(userId: string): Promise<GrantTombstone[]> {
    const ids = (await this.redis.zrangebyscore(this.keys.userTombstoneIndex(userId), Date.now(), '+inf')).sort();
    return (await this.#loadTombstones(ids)).filter((t) => t.userId === userId);
  }

  async listTombstones(filter: Pick<GrantFilter, 'userId' | 'provider'>, limit: number, cursor?: string): Promise<Page<GrantTombstone>> {
    const after = decodeCursor(cursor);
    if (limit <= 0) return { items: [] };
    // Bounded by the retention window; read in id order, a batch at a time.
    const ids = (await this.redis.zrangebyscore(this.keys.tombstoneIndex(), Date.now(), '+inf')).sort().filter((id) => after === undefined || id > after);
    const items: GrantTombstone[] = [];
    const batch = Math.max(limit + 1, 32);
    for (let i = 0; i < ids.length; i += batch) {
      for (const t of await this.#loadTombstones(ids.slice(i, i + batch))) {
        if ((filter.userId !== undefined && t.userId !== filter.userId) || (filter.provider !== undefined && t.provider !== filter.provider)) continue;
        if (items.length === limit) {
          const last = items[limit - 1];
          return last === undefined ? { items } : { items, next: encodeCursor(last.grantId) };
        }
        items.push(t);
      }
    }
    return { items };
  }

  async #loadTombstones(ids: string[]): Promise<GrantTombstone[]> {
    if (ids.length === 0) return [];
    const replies = await Promise.all(ids.map((id) => this.redis.get(this.keys.tombstone(id))));
    return replies.map((reply) => decodeTombstone(reply)).filter((t, i): t is GrantTombstone => t !== null && t.grantId === ids[i]);
  }

  async #load(ids: string[]): Promise<(Grant | null)[]> {
    if (ids.length === 0) return [];
    // One grant per slot: auto-pipelined commands (one write per node), not a pipeline, which
    // ioredis keeps to one Cluster node.
    const replies = await Promise.all(ids.map((id) => this.redis.hgetall(this.keys.grant(id))));
    return replies.map((reply) => decodeGrant(reply));
  }
}
