import { ttlToMs } from '../validation.js';
import type { CachedAccessToken, OperationTokenRecord, TokenStore } from '../types.js';
import { ExpiringMap } from './expiring-map.js';

/** In-memory TokenStore: operation-token records by jti, a per-grant jti index, cached access tokens. */
export class MemoryTokenStore implements TokenStore {
  readonly #records = new ExpiringMap<OperationTokenRecord>();
  readonly #byGrant = new Map<string, Set<string>>();
  readonly #accessTokens = new ExpiringMap<CachedAccessToken>();

  async put(record: OperationTokenRecord, ttlMs: number): Promise<void> {
    const ttl = ttlToMs(ttlMs);
    this.#records.set(record.jti, { ...record }, ttl);
    let jtis = this.#byGrant.get(record.grantId);
    if (jtis === undefined) this.#byGrant.set(record.grantId, (jtis = new Set()));
    // Expired jtis are pruned here, like the Redis index, so a busy grant's index stays bounded.
    for (const jti of jtis) if (this.#records.get(jti) === undefined) jtis.delete(jti);
    jtis.add(record.jti);
  }

  async get(jti: string): Promise<OperationTokenRecord | null> {
    const record = this.#records.get(jti);
    return record === undefined ? null : { ...record };
  }

  async consume(jti: string): Promise<OperationTokenRecord | null> {
    const record = this.#records.get(jti);
    if (record === undefined || record.usesLeft <= 0) return null;
    const before = { ...record };
    record.usesLeft -= 1;
    if (record.usesLeft === 0) this.#forget(record);
    return before;
  }

  async revokeByGrant(grantId: string): Promise<number> {
    return this.dropGrant(grantId);
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

  /** Removes a grant's operation tokens and cached access token; returns how many live tokens died. */
  dropGrant(grantId: string): number {
    this.#accessTokens.delete(grantId);
    const jtis = this.#byGrant.get(grantId);
    if (jtis === undefined) return 0;
    this.#byGrant.delete(grantId);
    let removed = 0;
    for (const jti of jtis) if (this.#records.delete(jti)) removed += 1;
    return removed;
  }

  #forget(record: OperationTokenRecord): void {
    this.#records.delete(record.jti);
    this.#byGrant.get(record.grantId)?.delete(record.jti);
  }
}
