/**
 * Chain verification (`GET /admin/audit/verify`): walks the stored chain in
 * pages and reports the first link it cannot vouch for.
 *
 * What each tampering looks like (see chain.ts for the trust model):
 * - a modified entry: its MAC no longer matches → `hash_mismatch`;
 * - a deleted entry: the next seq is missing → `seq_gap` (renumbered: `prev_mismatch`/`hash_mismatch`);
 * - a reordered pair: a seq arrives before its predecessor → `seq_order`;
 * - an inserted entry: a duplicate seq → `seq_order`, a new one → `prev_mismatch`/`hash_mismatch`;
 * - a truncated tail: only with a checkpoint → `truncated` (chain shorter than
 *   the checkpoint, or its entry at checkpoint.seq has another hash);
 * - an entry the store cannot even parse → `malformed`.
 *
 * `firstBroken.seq` is the position where the chain stops verifying: the seq
 * expected there (for gaps and order), or the checkpoint's seq.
 */
import type { AuditEntry, AuditHead, AuditStore } from '../store/audit-store.js';
import { entryVerifies, sameHash } from './chain.js';
import { verifyCheckpoint, type AuditCheckpoint } from './checkpoint.js';
import { deriveAuditKeys } from './keys.js';

export type BrokenReason = 'hash_mismatch' | 'prev_mismatch' | 'seq_gap' | 'seq_order' | 'malformed' | 'truncated';

export interface VerifyReport {
  ok: boolean;
  /** Entries verified before the first break (all of them when ok). */
  records: number;
  /** Last verified entry; absent when none verified. */
  head?: AuditHead;
  firstBroken?: { seq: number; reason: BrokenReason };
  /**
   * With a checkpoint: how many verified entries follow it. These are the
   * records a truncation could still erase unnoticed (checkpoint.ts).
   */
  afterCheckpoint?: number;
}

export interface VerifyOptions {
  /**
   * Start here instead of 1. The `prev` of the first entry is then taken on
   * trust: pair it with a checkpoint or an earlier full run.
   */
  fromSeq?: number;
  /** The newest known checkpoint (from outside Redis); its MAC is checked first (InvalidCheckpointError). */
  checkpoint?: AuditCheckpoint;
  /** Entries per `range` call; default 1000. */
  pageSize?: number;
}

export async function verifyChain(store: Pick<AuditStore, 'range'>, hmacKey: Uint8Array, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const keys = deriveAuditKeys(hmacKey);
  const checkpoint = opts.checkpoint === undefined ? undefined : verifyCheckpoint(keys, opts.checkpoint);
  const fromSeq = opts.fromSeq ?? 1;
  const pageSize = opts.pageSize ?? 1000;
  if (!Number.isSafeInteger(fromSeq) || fromSeq < 1) throw new RangeError('fromSeq must be a positive integer');
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new RangeError('pageSize must be a positive integer');

  let expectSeq = fromSeq;
  let expectPrev: string | undefined = fromSeq === 1 ? '' : undefined;
  let last: AuditEntry | undefined;
  let records = 0;
  const report = (reason?: BrokenReason, seq?: number): VerifyReport => ({
    ok: reason === undefined,
    records,
    ...(last !== undefined && { head: { seq: last.seq, hash: last.hash } }),
    ...(reason !== undefined && { firstBroken: { seq: seq ?? expectSeq, reason } }),
    ...(checkpoint !== undefined && { afterCheckpoint: Math.max(0, (last?.seq ?? 0) - checkpoint.seq) }),
  });

  for (;;) {
    // Pages overlap by one entry: re-reading the last verified entry means an
    // entry slipped in right after it (stream id `<seq>-1`) cannot hide
    // between two pages.
    const count = last === undefined ? pageSize : pageSize + 1;
    const page = await store.range(last?.seq ?? expectSeq, count);
    const start = last !== undefined && page[0] !== undefined && sameEntry(page[0], last) ? 1 : 0;
    for (let i = start; i < page.length; i++) {
      const entry = page[i] as AuditEntry;
      if (!wellFormed(entry)) return report('malformed');
      if (entry.seq < expectSeq) return report('seq_order');
      if (entry.seq > expectSeq) {
        // The missing seq further on in this page means it was moved, not deleted.
        return report(page.some((e, j) => j > i && e.seq === expectSeq) ? 'seq_order' : 'seq_gap');
      }
      if (expectPrev !== undefined && entry.prev !== expectPrev) return report('prev_mismatch');
      if (!entryVerifies(keys.chain, entry)) return report('hash_mismatch');
      // A body under a valid MAC that is not its record would be a writer bug, still not a record to trust.
      if (!bodyMatches(entry)) return report('malformed');
      // Same length again but different history: the tail was cut and written anew.
      if (checkpoint !== undefined && entry.seq === checkpoint.seq && !sameHash(entry.hash, checkpoint.hash)) {
        return report('truncated', checkpoint.seq);
      }
      records += 1;
      expectSeq = entry.seq + 1;
      expectPrev = entry.hash;
      last = entry;
    }
    if (page.length < count) break;
  }

  if (checkpoint !== undefined && expectSeq <= checkpoint.seq) return report('truncated');
  return report();
}

function sameEntry(a: AuditEntry, b: AuditEntry): boolean {
  return a.seq === b.seq && a.prev === b.prev && a.hash === b.hash && a.body === b.body;
}

function wellFormed(entry: AuditEntry): boolean {
  return (
    Number.isSafeInteger(entry.seq) && entry.seq >= 1 && typeof entry.prev === 'string' && typeof entry.hash === 'string' && typeof entry.body === 'string'
  );
}

function bodyMatches(entry: AuditEntry): boolean {
  try {
    const record = JSON.parse(entry.body) as unknown;
    return typeof record === 'object' && record !== null && (record as { seq?: unknown }).seq === entry.seq;
  } catch {
    return false;
  }
}
