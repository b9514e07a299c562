/**
 * Tampering with the archive by a PostgreSQL superuser, after retention trimmed the records from
 * Redis (the archive is their only copy): modify, delete, reorder, insert and truncate are each
 * reported by verify, both over the whole trail (what /admin/audit/verify reads: archive + Redis,
 * against the checkpoint file) and over the archive alone (anchored to its stored checkpoints).
 */
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { createArchiver } from '../../../src/audit/archive/archiver.js';
import { auditStoreSource } from '../../../src/audit/archive/source.js';
import { tieredAuditStore } from '../../../src/audit/archive/tiered-store.js';
import { verifyArchive } from '../../../src/audit/archive/verify-archive.js';
import type { AuditCheckpoint } from '../../../src/audit/checkpoint.js';
import { createCheckpointer } from '../../../src/audit/checkpointer.js';
import { verifyChain } from '../../../src/audit/verify.js';
import { createAuditWriter } from '../../../src/audit/writer.js';
import { archiveEvent, archiveFixture } from '../../helpers/audit-archive.js';

const hmacKey = randomBytes(32);
let checkpoint: AuditCheckpoint;
const fx = archiveFixture('x');

/** 30 records, the first 20 archived and trimmed from Redis, with a checkpoint at 20 stored in the archive and one at 30 in the "file". */
beforeEach(async () => {
  let n = 0;
  const writer = createAuditWriter({ store: fx.stores.audit, hmacKey, now: () => (n <= 20 ? Date.now() - 7_200_000 : Date.now()) });
  const checkpointer = createCheckpointer({ store: fx.stores.audit, hmacKey, sink: () => {}, everyMs: 0 });
  for (n = 1; n <= 20; n++) await writer.record(archiveEvent(n));
  const [at20] = await checkpointer.checkpointNow();
  const archiver = createArchiver({
    source: auditStoreSource(fx.stores.audit),
    archive: fx.db.archive,
    locks: fx.stores.locks,
    retentionMs: 3_600_000,
    lagWarnSeconds: 300,
    checkpoint: async () => [at20],
  });
  await archiver.runOnce();
  for (; n <= 30; n++) await writer.record(archiveEvent(n));
  checkpoint = (await checkpointer.checkpointNow())[0]!;
  expect((await fx.stores.audit.range(0, 1, 1))[0]?.seq).toBe(21);
});

const wholeTrail = () => verifyChain(tieredAuditStore(fx.stores.audit, fx.db.archive), hmacKey, { checkpoint });
const archiveAlone = async () => {
  const { ok, firstBroken } = (await verifyArchive(fx.db.archive, hmacKey, 1)).chains[0]!;
  return { ok, firstBroken };
};
const sql = (text: string) => fx.db.attacker.query(text);

describe('tampering with the archive (a database superuser)', () => {
  it('verifies clean before any tampering', async () => {
    expect(await wholeTrail()).toStrictEqual({ chain: 0, ok: true, records: 30, head: await fx.stores.audit.head(0), afterCheckpoint: 0 });
    expect(await archiveAlone()).toStrictEqual({ ok: true, firstBroken: undefined });
  });

  it('modify: a changed body breaks its MAC', async () => {
    await sql(`UPDATE audit_records SET body = replace(body, '"req-7"', '"req-X"') WHERE seq = 7`);
    expect((await wholeTrail()).firstBroken).toStrictEqual({ seq: 7, reason: 'hash_mismatch' });
    expect(await archiveAlone()).toStrictEqual({ ok: false, firstBroken: { seq: 7, reason: 'hash_mismatch' } });
  });

  it('delete: a missing seq is a gap', async () => {
    await sql('DELETE FROM audit_records WHERE seq = 12');
    expect((await wholeTrail()).firstBroken).toStrictEqual({ seq: 12, reason: 'seq_gap' });
    expect(await archiveAlone()).toStrictEqual({ ok: false, firstBroken: { seq: 12, reason: 'seq_gap' } });
  });

  it('delete of the newest archived records: the gap before Redis, and the archive shorter than its anchor', async () => {
    await sql('DELETE FROM audit_records WHERE seq > 17');
    expect((await wholeTrail()).firstBroken).toStrictEqual({ seq: 18, reason: 'seq_gap' });
    expect(await archiveAlone()).toStrictEqual({ ok: false, firstBroken: { seq: 18, reason: 'truncated' } });
  });

  it('reorder: two records swapped in place no longer chain', async () => {
    // Through negative seqs: records written in the same millisecond share (chain, time), and an
    // in-place swap would meet the primary key (chain, seq, time) halfway.
    await sql(`UPDATE audit_records SET seq = -seq WHERE seq IN (5, 6);
      UPDATE audit_records SET seq = CASE seq WHEN -5 THEN 6 ELSE 5 END WHERE seq IN (-5, -6)`);
    expect((await wholeTrail()).firstBroken).toStrictEqual({ seq: 5, reason: 'prev_mismatch' });
    expect(await archiveAlone()).toStrictEqual({ ok: false, firstBroken: { seq: 5, reason: 'prev_mismatch' } });
  });

  it('insert: a second row for a seq (another time, so another key) is out of order', async () => {
    await sql(`INSERT INTO audit_records (chain, seq, time, prev, hash, body)
      SELECT chain, seq, time + interval '1 second', prev, hash, body FROM audit_records WHERE seq = 9`);
    expect((await wholeTrail()).firstBroken).toStrictEqual({ seq: 10, reason: 'seq_order' });
    expect(await archiveAlone()).toStrictEqual({ ok: false, firstBroken: { seq: 10, reason: 'seq_order' } });
  });

  it('insert: a forged record appended to the archive has no valid MAC (the trail reads that seq from Redis meanwhile)', async () => {
    await sql(`INSERT INTO audit_records (chain, seq, time, prev, hash, body)
      SELECT chain, 21, time, hash, 'forged', replace(body, '"seq":20', '"seq":21') FROM audit_records WHERE seq = 20`);
    expect(await wholeTrail()).toStrictEqual({ chain: 0, ok: true, records: 30, head: await fx.stores.audit.head(0), afterCheckpoint: 0 });
    expect(await archiveAlone()).toStrictEqual({ ok: false, firstBroken: { seq: 21, reason: 'hash_mismatch' } });
  });

  it('truncate: an emptied archive is a gap before Redis, and shorter than its anchor', async () => {
    await sql('TRUNCATE audit_records');
    expect((await wholeTrail()).firstBroken).toStrictEqual({ seq: 1, reason: 'seq_gap' });
    expect(await archiveAlone()).toStrictEqual({ ok: false, firstBroken: { seq: 1, reason: 'truncated' } });
  });

  it('a forged checkpoint row is no anchor', async () => {
    await sql(`INSERT INTO audit_checkpoints (chain, seq, hash, time, mac) VALUES (0, 25, 'h', '2026-01-01T00:00:00.000Z', 'forged')`);
    const report = (await verifyArchive(fx.db.archive, hmacKey, 1)).chains[0]!;
    expect({ ok: report.ok, anchorSeq: report.anchor?.seq, forged: report.forgedCheckpoints }).toStrictEqual({ ok: true, anchorSeq: 20, forged: 1 });
  });
});
