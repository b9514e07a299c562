import { decodeCursor, encodeCursor, matchesGrantFilter } from '../grant-filter.js';
import { StoreConflictError } from '../errors.js';
import { ttlToMs } from '../validation.js';
import type { Grant, GrantFilter, GrantStatus, GrantStore, GrantTombstone } from '../grant-store.js';
import type { Page } from '../page.js';

/**
 * In-memory GrantStore. Grants are cloned on the way in and out so a caller
 * mutating its object cannot change stored state, as with a real backend.
 */
export class MemoryGrantStore implements GrantStore {
  readonly #grants = new Map<string, Grant>();
  readonly #tombstones = new Map<string, { tombstone: GrantTombstone; until: number }>();

  /** @param onDelete drops what hangs off a deleted grant (its cached access token). */
  constructor(private readonly onDelete: (grantId: string) => void) {}

  async create(grant: Grant): Promise<void> {
    if (this.#grants.has(grant.id)) throw new StoreConflictError('grant already exists');
    this.#grants.set(grant.id, structuredClone(grant));
  }

  async get(id: string): Promise<Grant | null> {
    const grant = this.#grants.get(id);
    return grant === undefined ? null : structuredClone(grant);
  }

  async listByUser(userId: string): Promise<Grant[]> {
    return this.#sorted()
      .filter((g) => g.userId === userId)
      .map((g) => structuredClone(g));
  }

  async list(filter: GrantFilter, limit: number, cursor?: string): Promise<Page<Grant>> {
    const after = decodeCursor(cursor);
    const items: Grant[] = [];
    for (const grant of this.#sorted()) {
      if (after !== undefined && grant.id <= after) continue;
      if (!matchesGrantFilter(grant, filter)) continue;
      if (items.length === limit) {
        const last = items[items.length - 1];
        return last === undefined ? { items } : { items, next: encodeCursor(last.id) };
      }
      items.push(structuredClone(grant));
    }
    return { items };
  }

  /** One process, no replicas: a write is as durable as it gets once applied. */
  async replicated(): Promise<void> {}

  async commitRefresh(id: string, expectedVersion: number, refreshToken: string): Promise<number | null> {
    const grant = this.#grants.get(id);
    if (grant === undefined || grant.version !== expectedVersion) return null;
    grant.refreshToken = refreshToken;
    return this.#bump(grant);
  }

  async rewrapRefreshToken(id: string, expected: string, rewrapped: string): Promise<boolean> {
    const grant = this.#grants.get(id);
    if (grant === undefined || grant.refreshToken !== expected) return false;
    grant.refreshToken = rewrapped;
    return true;
  }

  async setStatus(id: string, status: GrantStatus, expectedVersion?: number): Promise<number | null> {
    const grant = this.#grants.get(id);
    if (grant === undefined) return null;
    if (expectedVersion !== undefined && grant.version !== expectedVersion) return null;
    grant.status = status;
    return this.#bump(grant);
  }

  async setConsent(id: string, agent: string, operations: string[]): Promise<boolean> {
    const grant = this.#grants.get(id);
    if (grant === undefined) return false;
    if (operations.length === 0) delete grant.consent[agent];
    else grant.consent[agent] = [...operations];
    grant.consentEpochs = { ...grant.consentEpochs, [agent]: (grant.consentEpochs?.[agent] ?? 0) + 1 };
    grant.updatedAt = Date.now();
    return true;
  }

  async delete(id: string): Promise<boolean> {
    this.onDelete(id);
    return this.#grants.delete(id);
  }

  async markRevoked(id: string, tombstone: GrantTombstone, ttlMs: number): Promise<number | null> {
    const grant = this.#grants.get(id);
    if (grant === undefined) return null;
    grant.status = 'revoked';
    this.#tombstones.set(id, { tombstone: structuredClone(tombstone), until: Date.now() + ttlToMs(ttlMs) });
    return this.#bump(grant);
  }

  async getTombstone(id: string): Promise<GrantTombstone | null> {
    return this.#liveTombstones().find((t) => t.grantId === id) ?? null;
  }

  async tombstonesByUser(userId: string): Promise<GrantTombstone[]> {
    return this.#liveTombstones().filter((t) => t.userId === userId);
  }

  async listTombstones(filter: Pick<GrantFilter, 'userId' | 'provider'>, limit: number, cursor?: string): Promise<Page<GrantTombstone>> {
    const after = decodeCursor(cursor);
    const matching = this.#liveTombstones().filter(
      (t) =>
        (after === undefined || t.grantId > after) &&
        (filter.userId === undefined || t.userId === filter.userId) &&
        (filter.provider === undefined || t.provider === filter.provider),
    );
    const items = matching.slice(0, Math.max(limit, 0));
    const last = items[items.length - 1];
    return matching.length > items.length && last !== undefined ? { items, next: encodeCursor(last.grantId) } : { items };
  }

  /** Unexpired tombstones by grant id (expired ones are dropped, like a Redis TTL). */
  #liveTombstones(): GrantTombstone[] {
    const now = Date.now();
    const live: GrantTombstone[] = [];
    for (const [id, { tombstone, until }] of this.#tombstones) {
      if (until <= now) this.#tombstones.delete(id);
      else live.push(structuredClone(tombstone));
    }
    return live.sort((a, b) => (a.grantId < b.grantId ? -1 : a.grantId > b.grantId ? 1 : 0));
  }

  #bump(grant: Grant): number {
    grant.version += 1;
    grant.updatedAt = Date.now();
    return grant.version;
  }

  #sorted(): Grant[] {
    // Redis orders the id index bytewise; code-unit order matches it for the ASCII ids the vault mints.
    return [...this.#grants.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
