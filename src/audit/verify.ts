/**
 * Chain verification (`GET /admin/audit/verify`): walks each stored chain in
 * pages and reports, per chain, the first link it cannot vouch for. A chain
 * trimmed by retention (AuditStore.trimArchived) is walked from its floor: the
 * last trimmed entry's seq and hash, kept with the chain's head.
 *
 * What each tampering looks like (see chain.ts for the trust model):
 * - a modified entry: its MAC no longer matches → `hash_mismatch`;
 * - a deleted entry: the next seq is missing → `seq_gap` (renumbered: `prev_mismatch`/`hash_mismatch`);
 * - a reordered pair: a seq arrives before its predecessor → `seq_order`;
 * - an inserted entry: a duplicate seq → `seq_order`, a new one → `prev_mismatch`/`hash_mismatch`;
 * - a truncated tail: only with a checkpoint → `truncated` (chain shorter than
 *   the checkpoint, or its entry at checkpoint.seq has another hash);
 * - an entry the store cannot even parse, or whose body names another chain,
 *   seq or time than where it is stored → `malformed`.
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
  chain: number;
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
  /** The last entry trimmed by retention (verification started after it); absent when none was. */
  floor?: AuditHead;
}

/** Every chain's report. */
export interface TrailReport {
  ok: boolean;
  /** Verified entries of all chains. */
  records: number;
  chains: VerifyReport[];
}

export interface VerifyOptions {
  /** The chain to walk; default 0. */
  chain?: number;
  /**
   * Start here instead of 1 (or the chain's floor). The `prev` of the first entry is then taken
   * on trust: pair it with a checkpoint or an earlier full run.
   */
  fromSeq?: number;
  /** The newest known checkpoint (from outside Redis); its MAC is checked first (InvalidCheckpointError). */
  checkpoint?: AuditCheckpoint;
  /** Entries per `range` call; default 1000. */
  pageSize?: number;
}

export async function verifyChain(store: Pick<AuditStore, 'chains' | 'range' | 'floor'>, hmacKey: Uint8Array, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const keys = deriveAuditKeys(hmacKey);
  const checkpoint = opts.checkpoint === undefined ? undefined : verifyCheckpoint(keys, opts.checkpoint);
  const chain = opts.chain ?? 0;
  const pageSize = opts.pageSize ?? 1000;
  if (!Number.isSafeInteger(chain) || chain < 0 || chain >= store.chains) throw new RangeError('chain out of range');
  if (opts.fromSeq !== undefined && (!Number.isSafeInteger(opts.fromSeq) || opts.fromSeq < 1)) throw new RangeError('fromSeq must be a positive integer');
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new RangeError('pageSize must be a positive integer');
  if (checkpoint !== undefined && checkpoint.chain !== chain) throw new RangeError('checkpoint of another chain');
  const floor = opts.fromSeq === undefined ? await store.floor(chain) : null;
  const fromSeq = opts.fromSeq ?? (floor?.seq ?? 0) + 1;

  let expectSeq = fromSeq;
  let expectPrev: string | undefined = floor !== null ? floor.hash : fromSeq === 1 ? '' : undefined;
  let last: AuditEntry | undefined;
  let records = 0;
  const report = (reason?: BrokenReason, seq?: number): VerifyReport => ({
    chain,
    ok: reason === undefined,
    records,
    ...(last !== undefined && { head: { seq: last.seq, hash: last.hash } }),
    ...(reason !== undefined && { firstBroken: { seq: seq ?? expectSeq, reason } }),
    ...(checkpoint !== undefined && { afterCheckpoint: Math.max(0, (last?.seq ?? floor?.seq ?? 0) - checkpoint.seq) }),
    ...(floor !== null && { floor }),
  });
  // Trimmed right at the checkpoint, the floor must be the checkpointed entry.
  if (checkpoint !== undefined && floor !== null && floor.seq === checkpoint.seq && !sameHash(floor.hash, checkpoint.hash)) {
    return report('truncated', checkpoint.seq);
  }

  for (;;) {
    // Pages overlap by one entry: re-reading the last verified entry means an
    // entry slipped in right after it (stream id `<seq>-1`) cannot hide
    // between two pages.
    const count = last === undefined ? pageSize : pageSize + 1;
    const page = await store.range(chain, last?.seq ?? expectSeq, count);
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
      if (!bodyMatches(entry, chain)) return report('malformed');
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

function bodyMatches(entry: AuditEntry, chain: number): boolean {
  try {
    const record = JSON.parse(entry.body) as unknown;
    if (typeof record !== 'object' || record === null) return false;
    const { chain: c, seq, time } = record as { chain?: unknown; seq?: unknown; time?: unknown };
    return c === chain && entry.chain === chain && seq === entry.seq && time === entry.time;
  } catch {
    return false;
  }
}

/** Verifies every chain in turn, each against its checkpoint (index = chain) when there is one. */
export async function verifyTrail(
  store: AuditStore,
  hmacKey: Uint8Array,
  opts: { checkpoints?: ReadonlyArray<AuditCheckpoint | undefined>; pageSize?: number } = {},
): Promise<TrailReport> {
  const chains: VerifyReport[] = [];
  for (let chain = 0; chain < store.chains; chain++) {
    const checkpoint = opts.checkpoints?.[chain];
    chains.push(
      await verifyChain(store, hmacKey, {
        chain,
        ...(checkpoint !== undefined && { checkpoint }),
        ...(opts.pageSize !== undefined && { pageSize: opts.pageSize }),
      }),
    );
  }
  return { ok: chains.every((r) => r.ok), records: chains.reduce((n, r) => n + r.records, 0), chains };
}
