/**
 * The audit trail as one store across both tiers: the recent window in Redis, what retention
 * trimmed from it in PostgreSQL. Writes (head, append, turn) go to Redis only; reads are answered
 * from Redis and completed from the archive below Redis's oldest entry, so queries, the export,
 * verification and the consent pages' history read one gap-free sequence without knowing where the
 * boundary is. Cursors are seqs, so paging is stable when the boundary moves between two pages.
 *
 * Redis is read first: what it returns starts at its oldest entry at that moment, and anything
 * older was trimmed only after it was archived (archiver.ts), so the archive holds it. Reading in
 * the other order could miss entries trimmed between the two reads.
 */
import type { AuditEntry, AuditStore } from '../../store/audit-store.js';
import type { PgAuditArchive } from './pg-archive.js';

export function tieredAuditStore(live: AuditStore, archive: PgAuditArchive, chain = 0): AuditStore {
  const store: AuditStore = {
    head: () => live.head(),
    append: (expected, entries, turn) => live.append(expected, entries, turn),

    async range(fromSeq, count) {
      if (count <= 0) return [];
      const recent = await live.range(fromSeq, count);
      const oldestLive = recent[0]?.seq ?? Number.MAX_SAFE_INTEGER;
      if (oldestLive <= Math.max(fromSeq, 1)) return recent;
      const archived = await archive.range(chain, fromSeq, count, oldestLive);
      return [...archived, ...recent].slice(0, count);
    },

    async reverseRange(toSeq, count) {
      if (count <= 0 || toSeq < 1) return [];
      const recent = await live.reverseRange(toSeq, count);
      if (recent.length === count) return recent;
      // The live part ended at Redis's oldest entry (or had none at or below toSeq): the archive goes on below it.
      const below = recent.length === 0 ? toSeq : (recent[recent.length - 1] as AuditEntry).seq - 1;
      const archived = await archive.reverseRange(chain, below, count - recent.length);
      return [...recent, ...archived];
    },

    async latestForGrant(grantId, count) {
      if (count <= 0) return [];
      const recent = await live.latestForGrant(grantId, count);
      if (recent.length === count) return recent;
      const below = recent[recent.length - 1]?.seq ?? Number.MAX_SAFE_INTEGER;
      return [...recent, ...(await archive.latestForGrant(chain, grantId, count - recent.length, below))];
    },
  };
  if (live.takeTurn !== undefined) store.takeTurn = (ttl) => live.takeTurn!(ttl);
  if (live.trimThrough !== undefined) store.trimThrough = (seq) => live.trimThrough!(seq);
  return store;
}
