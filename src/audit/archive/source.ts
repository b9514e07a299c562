/**
 * What the archiver reads and trims: the live chains (in Redis). One
 * interface, so the archiver does not care how many chains there are or how
 * a chain is stored.
 */
import type { AuditEntry, AuditStore } from '../../store/audit-store.js';

/** One chain entry: its chain and its record's `time` (ISO 8601, the archive's partition key) included. */
export type ArchiveEntry = AuditEntry;

export interface ArchiveSource {
  /** The chain numbers, 0-based. */
  chains(): readonly number[];
  /** Entries of `chain` with seq >= fromSeq, ascending, at most `count` (the oldest still held first). */
  range(chain: number, fromSeq: number, count: number): Promise<ArchiveEntry[]>;
  /**
   * Drops the entries of `chain` with seq <= `uptoSeq` (already archived) that are older than
   * `olderThan` (epoch ms) from the live store; returns how many went (AuditStore.trimArchived).
   */
  trimArchived(chain: number, uptoSeq: number, olderThan: number): Promise<number>;
}

/** Every chain of an AuditStore. */
export function auditStoreSource(store: AuditStore): ArchiveSource {
  const chains = Array.from({ length: store.chains }, (_, i) => i);
  return {
    chains: () => chains,
    range: (chain, fromSeq, count) => store.range(chain, fromSeq, count),
    trimArchived: (chain, uptoSeq, olderThan) => store.trimArchived(chain, uptoSeq, olderThan),
  };
}
