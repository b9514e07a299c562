import type { AuditStore } from '../../src/store/audit-store.js';

/**
 * The store without writer presence (AuditStore.writers): its writers never get a home chain
 * (src/audit/chain-owners.ts), as with more writers than chains, so each record goes to the chain
 * of its stable key (`auditChainOf`) however many writers a test starts. For tests about what
 * happens on a given chain, or about records spread over every chain.
 */
export function homeless(store: AuditStore): AuditStore {
  return Object.assign(Object.create(store) as AuditStore, { writers: undefined });
}

/**
 * A plain object calling `inner` for every AuditStore method (the optional ones only when `inner`
 * has them), for tests that wrap a store: spread it and replace what the test watches.
 */
export function passThrough(inner: AuditStore): AuditStore {
  return {
    chains: inner.chains,
    head: (chain) => inner.head(chain),
    heads: () => inner.heads(),
    append: (chain, head, entries, turn, claimMs) => inner.append(chain, head, entries, turn, claimMs),
    range: (chain, from, count) => inner.range(chain, from, count),
    reverseRange: (chain, to, count) => inner.reverseRange(chain, to, count),
    latestForGrant: (grant, count) => inner.latestForGrant(grant, count),
    latestForGrantIn: (chain, grant, count) => inner.latestForGrantIn(chain, grant, count),
    trimArchived: (chain, upto, olderThan) => inner.trimArchived(chain, upto, olderThan),
    floor: (chain) => inner.floor(chain),
    claimChainCount: () => inner.claimChainCount(),
    ...(inner.takeTurn && { takeTurn: (chain: number, ttlMs: number) => inner.takeTurn!(chain, ttlMs) }),
    ...(inner.writers && { writers: (writer: string, ttlMs: number, leave?: boolean) => inner.writers!(writer, ttlMs, leave) }),
  };
}
