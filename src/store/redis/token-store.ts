import { ttlToMs } from '../validation.js';
import { UNPROVEN, type CachedAccessToken, type OperationTokenRecord, type TokenStore } from '../token-store.js';
import type { RedisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

/**
 * Redis TokenStore. A record is one string `<uses left>:<proof>:<record JSON>`
 * (`<uses left>:<record JSON>` without a proof) under `tok:<jti>` with the
 * token's TTL: put is a plain `SET PX` (the exchange hot path: no script),
 * consume is one script on that one key.
 *
 * There is no per-grant index of tokens: a record is only ever honoured
 * together with its grant (active, same user and provider, consent for the
 * agent and operation) and the kill switches, read when the token is used
 * (see grants/liveness.ts). Revoking, re-consenting or deleting the
 * grant therefore kills its outstanding tokens at once, and the orphaned
 * records, which hold no secret, expire with their short TTL.
 */
export class RedisTokenStore implements TokenStore {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: RedisKeys,
  ) {}

  async put(record: OperationTokenRecord, ttlMs: number): Promise<void> {
    const ttl = ttlToMs(ttlMs);
    const { proof, ...rest } = record;
    const value = `${record.usesLeft}:${proof === undefined ? '' : `${proof}:`}${JSON.stringify(rest)}`;
    await this.redis.set(this.keys.token(record.jti), value, 'PX', ttl);
  }

  async get(jti: string): Promise<OperationTokenRecord | null> {
    const value = await this.redis.get(this.keys.token(jti));
    if (value === null) return null;
    const sep = value.indexOf(':');
    return withUses(value.slice(sep + 1), Number(value.slice(0, sep)));
  }

  async consume(jti: string, proof?: string): Promise<OperationTokenRecord | null | typeof UNPROVEN> {
    const spent = await this.redis.tvConsume(this.keys.token(jti), proof ?? '');
    return spent === null ? null : spent === 0 ? UNPROVEN : withUses(spent[0], spent[1]);
  }

  async cacheAccessToken(grantId: string, entry: CachedAccessToken, ttlMs: number): Promise<void> {
    const ttl = ttlToMs(ttlMs);
    const json = JSON.stringify({ c: entry.ciphertext, e: entry.expiresAt, v: entry.grantVersion });
    await this.redis.set(this.keys.accessToken(grantId), json, 'PX', ttl);
  }

  async getAccessToken(grantId: string): Promise<CachedAccessToken | null> {
    const json = await this.redis.get(this.keys.accessToken(grantId));
    if (json === null) return null;
    const { c, e, v } = JSON.parse(json) as { c: string; e: number; v: number };
    return { ciphertext: c, expiresAt: e, grantVersion: v };
  }

  async dropAccessToken(grantId: string): Promise<void> {
    await this.redis.del(this.keys.accessToken(grantId));
  }
}

/** `[<proof>:]<record JSON>`: the JSON starts with `{`, a proof (base64url) never does. */
function withUses(stored: string, usesLeft: number): OperationTokenRecord {
  const stop = stored.startsWith('{') ? -1 : stored.indexOf(':');
  const record = JSON.parse(stored.slice(stop + 1)) as OperationTokenRecord;
  record.usesLeft = usesLeft;
  if (stop > 0) record.proof = stored.slice(0, stop);
  return record;
}
