import { ttlToMs } from '../validation.js';
import type { CachedAccessToken, OperationTokenRecord, TokenStore } from '../types.js';
import { throwFirstError, toStoreError } from './errors.js';
import type { RedisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

/**
 * Redis TokenStore. A record is a hash `{r: record JSON, u: uses left}` under
 * `tok:<jti>`, so consume is one script on one key; the grant's `tokens` zset
 * (jti -> expiry) lets revokeByGrant find the records.
 *
 * put writes the index entry before the record, on one connection, so a token
 * whose put has resolved is always reachable by revokeByGrant. A put racing a
 * revoke may survive it, exactly as a put issued just after would; callers
 * close that window by re-checking grant status, not by the store.
 */
export class RedisTokenStore implements TokenStore {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: RedisKeys,
  ) {}

  async put(record: OperationTokenRecord, ttlMs: number): Promise<void> {
    const ttl = ttlToMs(ttlMs);
    const json = JSON.stringify(record);
    try {
      await Promise.all([
        this.redis.tvIndexToken(this.keys.grantTokens(record.grantId), ttl, record.jti),
        this.redis.tvPutToken(this.keys.token(record.jti), json, record.usesLeft, ttl),
      ]);
    } catch (err) {
      throw toStoreError(err);
    }
  }

  async get(jti: string): Promise<OperationTokenRecord | null> {
    try {
      const [json, uses] = await this.redis.hmget(this.keys.token(jti), 'r', 'u');
      return json == null ? null : withUses(json, Number(uses));
    } catch (err) {
      throw toStoreError(err);
    }
  }

  async consume(jti: string): Promise<OperationTokenRecord | null> {
    try {
      const spent = await this.redis.tvConsume(this.keys.token(jti));
      return spent === null ? null : withUses(spent[0], spent[1]);
    } catch (err) {
      throw toStoreError(err);
    }
  }

  async revokeByGrant(grantId: string): Promise<number> {
    const index = this.keys.grantTokens(grantId);
    try {
      const jtis = await this.redis.zrange(index, 0, '-1');
      if (jtis.length === 0) return 0;
      // Records sit in their own slots: single-key DELs, then trim exactly the
      // members seen, so an index entry added meanwhile is kept, and a crash
      // half-way leaves the index for a retry to finish.
      const pipe = this.redis.pipeline();
      for (const jti of jtis) pipe.del(this.keys.token(jti));
      pipe.zrem(index, ...jtis);
      const replies = throwFirstError(await pipe.exec());
      let removed = 0;
      for (let i = 0; i < jtis.length; i++) removed += replies[i] as number;
      return removed;
    } catch (err) {
      throw toStoreError(err);
    }
  }

  async cacheAccessToken(grantId: string, entry: CachedAccessToken, ttlMs: number): Promise<void> {
    const ttl = ttlToMs(ttlMs);
    const json = JSON.stringify({ c: entry.ciphertext, e: entry.expiresAt, v: entry.grantVersion });
    try {
      await this.redis.set(this.keys.accessToken(grantId), json, 'PX', ttl);
    } catch (err) {
      throw toStoreError(err);
    }
  }

  async getAccessToken(grantId: string): Promise<CachedAccessToken | null> {
    try {
      const json = await this.redis.get(this.keys.accessToken(grantId));
      if (json === null) return null;
      const { c, e, v } = JSON.parse(json) as { c: string; e: number; v: number };
      return { ciphertext: c, expiresAt: e, grantVersion: v };
    } catch (err) {
      throw toStoreError(err);
    }
  }

  async dropAccessToken(grantId: string): Promise<void> {
    try {
      await this.redis.del(this.keys.accessToken(grantId));
    } catch (err) {
      throw toStoreError(err);
    }
  }
}

function withUses(json: string, usesLeft: number): OperationTokenRecord {
  const record = JSON.parse(json) as OperationTokenRecord;
  record.usesLeft = usesLeft;
  return record;
}
