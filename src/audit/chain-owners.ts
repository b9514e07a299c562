/**
 * Which audit chains a writer appends to: each live writer owns a share of the chains, so writers
 * of different vault processes do not meet on a chain.
 *
 * Why: a chain's head is one compare-and-append (src/store/audit-store.ts). Two processes writing
 * one chain take turns, and each handover costs the new writer a refused append to learn the head
 * it must chain on (only a holder of the HMAC key can re-chain, so Redis cannot do it for them).
 * With 3 processes × 16 callers over 16 chains nearly every append was a handover (1.5 store
 * calls per record); owning chains removes handovers altogether (bench/RESULTS.md).
 *
 * How: every writer marks itself live in the store (AuditStore.writers, by the store's clock) at
 * most once per REFRESH_MS while it writes (every SETTLE_MS while the list keeps changing); the live writers, sorted by id, are numbered 0..L-1,
 * and writer r owns the chains i with i mod L = r. Every writer computes the same split from the
 * same list, and nobody hands anything over: when the list changes, each writer switches at its
 * next refresh. Until then two writers can share a chain for up to a refresh, which is safe: the
 * head compare-and-append and the append turn still decide every append. Ownership only keeps
 * writers apart; it never guards the chain.
 *
 * A writer that owns nothing (more writers than chains, or the store unreachable so its view is
 * older than its time to live) routes by `auditChainOf` over all chains, as every writer did
 * before ownership, and may meet others there.
 */
import { auditChainOf, type AuditRouting, type AuditStore } from '../store/audit-store.js';
import { detached } from '../store/budget.js';

/** How often a writing writer renews its presence and rereads the list. */
export const REFRESH_MS = 1_000;
/** How soon it looks again when the list changed since its last look: writers joining or leaving settle in a few of these. */
export const SETTLE_MS = 100;
/** How long a writer counts as live after it last renewed: several refreshes, so one slow renewal changes nothing. */
export const WRITER_TTL_MS = 5_000;

/**
 * The home chain of writer `self` among `writers` (sorted ids): its rank, if below `chains`. A lone
 * writer has none: it meets nobody, so its records spread over every chain by their stable key
 * (`auditChainOf`), and on a Cluster its appends over every chain's node.
 */
export function homeChain(writers: readonly string[], self: string, chains: number): number | undefined {
  const rank = writers.indexOf(self);
  return writers.length >= 2 && rank >= 0 && rank < chains ? rank : undefined;
}

export interface ChainRouter {
  /** The chain for a record: this writer's home when it has one, else the record's `auditChainOf`. */
  chainOf(record: AuditRouting): number;
  /** Stops renewing and leaves the list, so the others take this writer's chains at their next refresh. */
  leave(): Promise<void>;
}

export function createChainRouter(store: Pick<AuditStore, 'chains' | 'writers'>, self: string, now: () => number = () => performance.now()): ChainRouter {
  let home: number | undefined;
  /** The list at the last look, joined: a change brings the next look forward (SETTLE_MS). */
  let lastList = '';
  /** When the home stops counting (the writer's own time to live ran out without a renewal). */
  let validUntil = -Infinity;
  let nextRefresh = -Infinity;
  let refreshing = false;
  let left = false;

  function refresh(): void {
    if (store.writers === undefined || refreshing || left || store.chains <= 1) return;
    refreshing = true;
    const asked = now();
    nextRefresh = asked + REFRESH_MS;
    // Outside the request's store budget: the renewal serves every later request, not the one that set it off.
    detached(() => store.writers!(self, WRITER_TTL_MS)).then(
      (writers) => {
        refreshing = false;
        if (left) return;
        const list = writers.join('\n');
        if (list !== lastList) nextRefresh = asked + SETTLE_MS;
        lastList = list;
        home = homeChain(writers, self, store.chains);
        // Counted from the ask, not the answer: the store marked us live at some moment in between.
        validUntil = asked + WRITER_TTL_MS - REFRESH_MS;
      },
      () => {
        // Unreachable store: appends fail on their own; the view lapses at validUntil.
        refreshing = false;
      },
    );
  }

  return {
    chainOf(record) {
      const t = now();
      if (t >= nextRefresh) refresh();
      return home === undefined || t >= validUntil ? auditChainOf(record, store.chains) : home;
    },
    async leave() {
      left = true;
      home = undefined;
      if (store.writers === undefined || store.chains <= 1) return;
      await store.writers(self, WRITER_TTL_MS, true);
    },
  };
}
