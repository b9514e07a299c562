import { ttlToMs } from '../validation.js';
import { UNPROVEN, type CachedAccessToken, type OperationTokenRecord, type TokenStore } from '../token-store.js';
import { ExpiringMap } from './expiring-map.js';

/**
 * In-memory TokenStore: operation-token records by jti, cached access tokens.
 * Like the Redis store, no index links a grant to its tokens: a record is only
 * honoured together with its live grant (grants/liveness.ts).
 */
export class MemoryTokenStore implements TokenStore {
  readonly #records = new ExpiringMap<OperationTokenRecord>();
  readonly #accessTokens = new ExpiringMap<CachedAccessToken>();

  async put(record: OperationTokenRecord, ttlMs: number): Promise<void> {
    this.#records.set(record.jti, { ...record }, ttlToMs(ttlMs));
  }

  async get(jti: string): Promise<OperationTokenRecord | null> {
    const record = this.#records.get(jti);
    return record === undefined ? null : { ...record };
  }

  async consume(jti: string, proof?: string): Promise<OperationTokenRecord | null | typeof UNPROVEN> {
    const record = this.#records.get(jti);
    if (record === undefined || record.usesLeft <= 0) return null;
    if (proof !== undefined && record.proof !== proof) return UNPROVEN;
    const before = { ...record };
    record.usesLeft -= 1;
    if (record.usesLeft === 0) this.#records.delete(record.jti);
    return before;
  }

  async cacheAccessToken(grantId: string, entry: CachedAccessToken, ttlMs: number): Promise<void> {
    this.#accessTokens.set(grantId, { ...entry }, ttlToMs(ttlMs));
  }

  async getAccessToken(grantId: string): Promise<CachedAccessToken | null> {
    const entry = this.#accessTokens.get(grantId);
    return entry === undefined ? null : { ...entry };
  }

  async dropAccessToken(grantId: string): Promise<void> {
    this.#accessTokens.delete(grantId);
  }
}
