/**
 * Verification of the archive alone, with PostgreSQL as the only source: each chain is walked from
 * seq 1 and every link recomputed (src/audit/verify.ts), anchored to that chain's newest authentic
 * signed checkpoint stored with it (archiver.ts). An anchor is stored only once the archive holds
 * its seq, so a chain shorter than its newest anchor, or holding another entry at its seq, was
 * truncated or rewritten. A row of `audit_checkpoints` whose MAC does not verify, or that names
 * another chain, is no anchor (and counted).
 *
 * What the archive alone cannot show: a chain's newest records removed together with every anchor
 * above them. The full trail (Redis + archive, tiered-store.ts) against the checkpoint file does.
 */
import { verifyCheckpoint, type AuditCheckpoint } from '../checkpoint.js';
import { InvalidCheckpointError } from '../errors.js';
import { verifyChain, type VerifyReport } from '../verify.js';
import type { PgAuditArchive } from './pg-archive.js';

export interface ArchiveVerifyReport extends VerifyReport {
  /** The checkpoint the chain was anchored to; absent when the archive holds none for it yet. */
  anchor?: AuditCheckpoint;
  /** Stored checkpoints of this chain whose MAC does not verify (forged rows). */
  forgedCheckpoints: number;
}

/** Every chain's report. */
export interface ArchiveTrailReport {
  ok: boolean;
  /** Verified entries of all chains. */
  records: number;
  chains: ArchiveVerifyReport[];
}

/** Verifies the archived chains 0 … `chains` − 1, each against its own anchor. */
export async function verifyArchive(archive: PgAuditArchive, hmacKey: Uint8Array, chains: number): Promise<ArchiveTrailReport> {
  const reports: ArchiveVerifyReport[] = [];
  for (let chain = 0; chain < chains; chain++) reports.push(await verifyArchivedChain(archive, hmacKey, chains, chain));
  return { ok: reports.every((r) => r.ok), records: reports.reduce((n, r) => n + r.records, 0), chains: reports };
}

async function verifyArchivedChain(archive: PgAuditArchive, hmacKey: Uint8Array, chains: number, chain: number): Promise<ArchiveVerifyReport> {
  let anchor: AuditCheckpoint | undefined;
  let forgedCheckpoints = 0;
  for (const row of await archive.checkpoints(chain)) {
    try {
      const cp = verifyCheckpoint(hmacKey, row);
      if (cp.chain !== chain) throw new InvalidCheckpointError();
      anchor = cp;
      break;
    } catch (err) {
      if (!(err instanceof InvalidCheckpointError)) throw err;
      forgedCheckpoints += 1;
    }
  }
  const store = { chains, range: (c: number, from: number, count: number) => archive.range(c, from, count), floor: () => Promise.resolve(null) };
  const report = await verifyChain(store, hmacKey, { chain, ...(anchor !== undefined && { checkpoint: anchor }) });
  return { ...report, ...(anchor !== undefined && { anchor }), forgedCheckpoints };
}
