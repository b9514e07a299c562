/**
 * What the archiver reads and trims: the live chains (in Redis). One
 * interface, so the archiver does not care how many chains there are or how
 * a chain is stored.
 */
import type { AuditEntry, AuditStore } from '../../store/audit-store.js';

/** One chain entry with the chain it belongs to and its record's time (the archive's partition key). */
export interface ArchiveEntry extends AuditEntry {
  chain: number;
  /** ISO 8601, the record's own `time`. */
  time: string;
}

export interface ArchiveSource {
  /** The chain numbers, 0-based. */
  chains(): readonly number[];
  /** Entries of `chain` with seq >= fromSeq, ascending, at most `count` (the oldest still held first). */
  range(chain: number, fromSeq: number, count: number): Promise<ArchiveEntry[]>;
  /** Drops the entries of `chain` with seq <= `seq` from the live store (already archived). */
  trimThrough(chain: number, seq: number): Promise<void>;
}

/** The record time inside a chain entry's body; '' when the body carries none (verify reports such bodies). */
export function recordTime(body: string): string {
  try {
    const time = (JSON.parse(body) as { time?: unknown }).time;
    return typeof time === 'string' && Number.isFinite(Date.parse(time)) ? time : '';
  } catch {
    return '';
  }
}

/** The single chain of an AuditStore, as chain 0. */
export function singleChainSource(store: AuditStore): ArchiveSource {
  return {
    chains: () => [0],
    async range(_chain, fromSeq, count) {
      const entries = await store.range(fromSeq, count);
      return entries.map((e) => ({ ...e, chain: 0, time: recordTime(e.body) }));
    },
    async trimThrough(_chain, seq) {
      if (store.trimThrough === undefined) throw new TypeError('this audit store cannot be trimmed');
      await store.trimThrough(seq);
    },
  };
}
