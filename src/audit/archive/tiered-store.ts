/**
 * The audit trail as one store across both tiers: per chain, the recent window in Redis, what
 * retention trimmed from it in PostgreSQL. Writes (head, append, turn, trim) go to Redis only; reads
 * of a chain are answered from Redis and completed from the archive below that chain's oldest entry
 * in Redis, so queries, the export, verification and the consent pages' history read one gap-free
 * sequence per chain without knowing where the boundary is. Cursors are seqs, so paging is stable
 * when the boundary moves between two pages.
 *
 * Redis is read first: what it returns starts at its oldest entry at that moment, and anything
 * older was trimmed only after it was archived (archiver.ts), so the archive holds it. Reading in
 * the other order could miss entries trimmed between the two reads.
 *
 * `floor` answers null: the floor kept in Redis is not trusted here, so verification walks each
 * chain from seq 1, the records below Redis's oldest entry coming from the archive; a floor above
 * what the archive holds shows as a `seq_gap` (src/audit/verify.ts).
 */
import { newestFirst, type AuditEntry, type AuditStore } from '../../store/audit-store.js';
import type { PgAuditArchive } from './pg-archive.js';

export function tieredAuditStore(live: AuditStore, archive: PgAuditArchive): AuditStore {
  const store: AuditStore = {
    chains: live.chains,
    head: (chain) => live.head(chain),
    heads: () => live.heads(),
    append: (chain, expected, entries, turn, claimMs) => live.append(chain, expected, entries, turn, claimMs),
    trimArchived: (chain, uptoSeq, olderThan) => live.trimArchived(chain, uptoSeq, olderThan),
    floor: () => Promise.resolve(null),
    claimChainCount: () => live.claimChainCount(),

    async range(chain, fromSeq, count) {
      if (count <= 0) return [];
      const recent = await live.range(chain, fromSeq, count);
      const oldestLive = recent[0]?.seq ?? Number.MAX_SAFE_INTEGER;
      if (oldestLive <= Math.max(fromSeq, 1)) return recent;
      const archived = await archive.range(chain, fromSeq, count, oldestLive);
      return [...archived, ...recent].slice(0, count);
    },

    async reverseRange(chain, toSeq, count) {
      if (count <= 0 || toSeq < 1) return [];
      const recent = await live.reverseRange(chain, toSeq, count);
      if (recent.length === count) return recent;
      // The live part ended at Redis's oldest entry (or had none at or below toSeq): the archive goes on below it.
      const below = recent.length === 0 ? toSeq : (recent[recent.length - 1] as AuditEntry).seq - 1;
      const archived = await archive.reverseRange(chain, below, count - recent.length);
      return [...recent, ...archived];
    },

    async latestForGrant(grantId, count) {
      if (count <= 0) return [];
      const lists = await Promise.all(Array.from({ length: live.chains }, (_, chain) => live.latestForGrantIn(chain, grantId, count)));
      // One query for every chain whose live part ran short, each below its oldest live entry.
      const below = lists.flatMap((list, chain) => (list.length < count ? [{ chain, seq: list[list.length - 1]?.seq ?? Number.MAX_SAFE_INTEGER }] : []));
      for (const entry of await archive.latestForGrant(grantId, count, below)) lists[entry.chain]?.push(entry);
      return newestFirst(
        lists.map((list) => list.sort((a, b) => b.seq - a.seq)),
        count,
      );
    },

    async latestForGrantIn(chain, grantId, count) {
      if (count <= 0) return [];
      const recent = await live.latestForGrantIn(chain, grantId, count);
      if (recent.length === count) return recent;
      const below = [{ chain, seq: recent[recent.length - 1]?.seq ?? Number.MAX_SAFE_INTEGER }];
      return [...recent, ...(await archive.latestForGrant(grantId, count - recent.length, below))];
    },
  };
  if (live.takeTurn !== undefined) store.takeTurn = (chain, ttl) => live.takeTurn!(chain, ttl);
  if (live.writers !== undefined) store.writers = (writer, ttl, leave) => live.writers!(writer, ttl, leave);
  return store;
}
