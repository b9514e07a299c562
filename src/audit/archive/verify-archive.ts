/**
 * Verification of the archive alone, with PostgreSQL as the only source: the chain is walked from
 * seq 1 and every link recomputed (src/audit/verify.ts), anchored to the newest authentic signed
 * checkpoint stored with it (archiver.ts). An anchor is stored only once the archive holds its seq,
 * so an archive shorter than its newest anchor, or holding another entry at its seq, was truncated
 * or rewritten. A row of `audit_checkpoints` whose MAC does not verify is no anchor (and counted).
 *
 * What the archive alone cannot show: its newest records removed together with every anchor above
 * them. The full trail (Redis + archive, tiered-store.ts) against the checkpoint file does.
 */
import { verifyCheckpoint, type AuditCheckpoint } from '../checkpoint.js';
import { InvalidCheckpointError } from '../errors.js';
import { verifyChain, type VerifyReport } from '../verify.js';
import type { PgAuditArchive } from './pg-archive.js';

export interface ArchiveVerifyReport extends VerifyReport {
  /** The checkpoint the archive was anchored to; absent when it holds none yet. */
  anchor?: AuditCheckpoint;
  /** Stored checkpoints whose MAC does not verify (forged rows). */
  forgedCheckpoints: number;
}

export async function verifyArchive(archive: PgAuditArchive, hmacKey: Uint8Array, chain = 0): Promise<ArchiveVerifyReport> {
  let anchor: AuditCheckpoint | undefined;
  let forgedCheckpoints = 0;
  for (const row of await archive.checkpoints(chain)) {
    try {
      anchor = verifyCheckpoint(hmacKey, row);
      break;
    } catch (err) {
      if (!(err instanceof InvalidCheckpointError)) throw err;
      forgedCheckpoints += 1;
    }
  }
  const report = await verifyChain({ range: (from, count) => archive.range(chain, from, count) }, hmacKey, anchor === undefined ? {} : { checkpoint: anchor });
  return { ...report, ...(anchor !== undefined && { anchor }), forgedCheckpoints };
}
