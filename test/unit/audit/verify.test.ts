import { mkdtemp, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chainRecords } from '../../../src/audit/chain.js';
import { createCheckpointer, fileCheckpointSink, readCheckpointFile, signCheckpoint, type AuditCheckpoint } from '../../../src/audit/checkpoint.js';
import { AuditTamperError, InvalidCheckpointError } from '../../../src/audit/errors.js';
import { deriveAuditKeys } from '../../../src/audit/keys.js';
import { verifyChain } from '../../../src/audit/verify.js';
import { createAuditWriter } from '../../../src/audit/writer.js';
import { createMemoryStores } from '../../../src/store/memory/index.js';
import type { AuditEntry, AuditStore } from '../../../src/store/audit-store.js';

const hmacKey = randomBytes(32);

/**
 * The memory store's layout (array position = seq - 1, range by position) with
 * the array exposed, standing in for someone editing the stored chain directly.
 */
function rawStore(entries: AuditEntry[]): AuditStore {
  return {
    head: async () => {
      const l = entries[entries.length - 1];
      return l ? { seq: l.seq, hash: l.hash } : null;
    },
    append: async () => {
      throw new Error('read-only');
    },
    range: async (from, count) => entries.slice(Math.max(from, 1) - 1, Math.max(from, 1) - 1 + count).map((e) => ({ ...e })),
    reverseRange: async () => {
      throw new Error('not used by the verifier');
    },
    latestForGrant: async () => {
      throw new Error('not used by the verifier');
    },
  };
}

async function writtenChain(n: number): Promise<AuditEntry[]> {
  const store = createMemoryStores().audit;
  const writer = createAuditWriter({ store, hmacKey });
  await Promise.all(Array.from({ length: n }, (_, i) => writer.record({ action: 'token.exchange', decision: 'allow', requestId: `r${i}` })));
  return store.range(1, n);
}

const at = (entries: AuditEntry[], seq: number): AuditEntry => entries[seq - 1]!;

describe('audit chain verification', () => {
  it('accepts an intact chain across page boundaries', async () => {
    const entries = await writtenChain(25);
    expect(await verifyChain(rawStore(entries), hmacKey, { pageSize: 4 })).toStrictEqual({
      ok: true,
      records: 25,
      head: { seq: 25, hash: at(entries, 25).hash },
    });
    expect(await verifyChain(rawStore([]), hmacKey)).toStrictEqual({ ok: true, records: 0 });
    expect(await verifyChain(rawStore(entries), hmacKey, { fromSeq: 10, pageSize: 4 })).toMatchObject({ ok: true, records: 16 });
  });

  it('detects a modified record (hash mismatch)', async () => {
    const entries = await writtenChain(10);
    const e = at(entries, 6);
    entries[5] = { ...e, body: e.body.replace('"allow"', '"deny"') };
    expect(await verifyChain(rawStore(entries), hmacKey, { pageSize: 3 })).toMatchObject({
      ok: false,
      records: 5,
      firstBroken: { seq: 6, reason: 'hash_mismatch' },
    });
  });

  it('detects a deleted record (seq gap), and a deletion hidden by renumbering (prev mismatch)', async () => {
    const entries = await writtenChain(10);
    const gap = entries.filter((e) => e.seq !== 4);
    expect(await verifyChain(rawStore(gap), hmacKey)).toMatchObject({ ok: false, records: 3, firstBroken: { seq: 4, reason: 'seq_gap' } });
    const renumbered = gap.map((e) => (e.seq > 4 ? { ...e, seq: e.seq - 1 } : e));
    expect(await verifyChain(rawStore(renumbered), hmacKey)).toMatchObject({ ok: false, firstBroken: { seq: 4, reason: 'prev_mismatch' } });
  });

  it('detects a reordered pair (seq order)', async () => {
    const entries = await writtenChain(10);
    [entries[6], entries[7]] = [at(entries, 8), at(entries, 7)];
    expect(await verifyChain(rawStore(entries), hmacKey)).toMatchObject({ ok: false, records: 6, firstBroken: { seq: 7, reason: 'seq_order' } });
  });

  it('detects inserted records: a replayed copy (seq order) and a forged one (prev or hash mismatch)', async () => {
    const entries = await writtenChain(10);
    const replayed = [...entries.slice(0, 5), at(entries, 3), ...entries.slice(5)];
    expect(await verifyChain(rawStore(replayed), hmacKey)).toMatchObject({ firstBroken: { seq: 6, reason: 'seq_order' } });

    const forgedKey = deriveAuditKeys(randomBytes(32)).chain;
    const {
      entries: [forged],
    } = chainRecords(forgedKey, { seq: 5, hash: at(entries, 5).hash }, [{ action: 'grant.revoke', decision: 'allow', time: new Date().toISOString() }]);
    const shifted = entries.slice(5).map((e) => ({ ...e, seq: e.seq + 1 }));
    const inserted = [...entries.slice(0, 5), forged!, ...shifted];
    expect(await verifyChain(rawStore(inserted), hmacKey)).toMatchObject({ records: 5, firstBroken: { seq: 6, reason: 'hash_mismatch' } });

    const appended = [...entries, { seq: 11, prev: at(entries, 10).hash, hash: 'forged', body: '{"seq":11}' }];
    expect(await verifyChain(rawStore(appended), hmacKey)).toMatchObject({ records: 10, firstBroken: { seq: 11, reason: 'hash_mismatch' } });
  });

  it('reports an entry it cannot parse as malformed', async () => {
    const entries = await writtenChain(3);
    entries[1] = { ...at(entries, 2), seq: Number.NaN };
    expect(await verifyChain(rawStore(entries), hmacKey)).toMatchObject({ firstBroken: { seq: 2, reason: 'malformed' } });
  });

  it('detects a truncated tail only with a checkpoint, also after the chain grew again', async () => {
    const entries = await writtenChain(20);
    const checkpoint = signCheckpoint(hmacKey, { seq: 20, hash: at(entries, 20).hash }, new Date().toISOString());
    const truncated = entries.slice(0, 17);
    expect(await verifyChain(rawStore(truncated), hmacKey)).toMatchObject({ ok: true, records: 17 });
    expect(await verifyChain(rawStore(truncated), hmacKey, { checkpoint })).toMatchObject({
      ok: false,
      records: 17,
      firstBroken: { seq: 18, reason: 'truncated' },
    });
    expect(await verifyChain(rawStore([]), hmacKey, { checkpoint })).toMatchObject({ ok: false, firstBroken: { seq: 1, reason: 'truncated' } });

    // Writers carry on after the cut: the chain is valid and long again, but not the one checkpointed.
    const store = createMemoryStores().audit;
    await store.append(null, truncated);
    const writer = createAuditWriter({ store, hmacKey });
    for (let i = 0; i < 5; i++) await writer.record({ action: 'admin.action', decision: 'allow' });
    expect(await verifyChain(store, hmacKey, { checkpoint })).toMatchObject({ ok: false, records: 19, firstBroken: { seq: 20, reason: 'truncated' } });
    expect(await verifyChain(rawStore(entries), hmacKey, { checkpoint })).toMatchObject({ ok: true, records: 20 });
  });

  it('counts the records that follow the checkpoint (what a cut could still erase unnoticed)', async () => {
    const entries = await writtenChain(25);
    const checkpoint = signCheckpoint(hmacKey, { seq: 20, hash: at(entries, 20).hash }, new Date().toISOString());
    expect(await verifyChain(rawStore(entries), hmacKey, { checkpoint, pageSize: 4 })).toStrictEqual({
      ok: true,
      records: 25,
      head: { seq: 25, hash: at(entries, 25).hash },
      afterCheckpoint: 5,
    });
    expect(await verifyChain(rawStore(entries.slice(0, 20)), hmacKey, { checkpoint })).toMatchObject({ ok: true, afterCheckpoint: 0 });
    expect(await verifyChain(rawStore(entries.slice(0, 12)), hmacKey, { checkpoint })).toMatchObject({ ok: false, afterCheckpoint: 0 });
  });

  it('refuses a checkpoint whose MAC does not verify', async () => {
    const entries = await writtenChain(3);
    const checkpoint = signCheckpoint(hmacKey, { seq: 3, hash: at(entries, 3).hash }, new Date().toISOString());
    await expect(verifyChain(rawStore(entries), hmacKey, { checkpoint: { ...checkpoint, seq: 2 } })).rejects.toBeInstanceOf(InvalidCheckpointError);
    await expect(verifyChain(rawStore(entries), randomBytes(32), { checkpoint })).rejects.toBeInstanceOf(InvalidCheckpointError);
  });
});

describe('audit checkpointer', () => {
  const dirs: string[] = [];
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('checkpoints every N records to a private file that the verifier can use', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tv-audit-'));
    dirs.push(dir);
    const path = join(dir, 'checkpoint.json');
    const store = createMemoryStores().audit;
    const written: AuditCheckpoint[] = [];
    const fileSink = fileCheckpointSink(path);
    const checkpointer = createCheckpointer({
      store,
      hmacKey,
      everyRecords: 10,
      everyMs: 0,
      sink: async (cp) => {
        written.push(cp);
        await fileSink(cp);
      },
    });
    const writer = createAuditWriter({ store, hmacKey, onCommit: checkpointer.observe });
    for (let i = 0; i < 25; i++) await writer.record({ action: 'token.forward', decision: 'allow' });
    await checkpointer.checkpointNow();
    checkpointer.stop();

    // Background checkpoints run while records keep coming, so exact seqs depend on timing.
    const seqs = written.map((c) => c.seq);
    expect(seqs.length).toBeGreaterThanOrEqual(2);
    expect(seqs[0]).toBeGreaterThanOrEqual(10);
    expect(seqs).toStrictEqual([...seqs].sort((a, b) => a - b));
    expect(seqs.at(-1)).toBe(25);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const fromFile = await readCheckpointFile(path, hmacKey);
    expect(fromFile).toStrictEqual(written.at(-1));
    expect(await verifyChain(store, hmacKey, { checkpoint: fromFile! })).toMatchObject({ ok: true, records: 25 });
    expect(await readCheckpointFile(join(dir, 'absent.json'), hmacKey)).toBeNull();
  });

  it("reports the newest checkpoint, another replica's from the shared file included", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tv-audit-'));
    dirs.push(dir);
    const path = join(dir, 'checkpoint.json');
    const store = createMemoryStores().audit;
    const errors: unknown[] = [];
    const replica = () =>
      createCheckpointer({
        store,
        hmacKey,
        everyMs: 0,
        sink: fileCheckpointSink(path),
        load: () => readCheckpointFile(path, hmacKey),
        onError: (e) => errors.push(e),
      });
    const [a, b] = [replica(), replica()];
    const writer = createAuditWriter({ store, hmacKey });
    for (let i = 0; i < 5; i++) await writer.record({ action: 'token.forward', decision: 'allow' });
    const older = await b.checkpointNow();
    for (let i = 0; i < 5; i++) await writer.record({ action: 'token.forward', decision: 'allow' });
    const newer = await a.checkpointNow();
    expect([older?.seq, newer?.seq]).toStrictEqual([5, 10]);
    expect(await b.newest()).toStrictEqual(newer);
    // A file holding an older (or no) checkpoint never hides the replica's own newer one.
    await fileCheckpointSink(path)(older!);
    expect(await a.newest()).toStrictEqual(newer);
    // A forged file is reported, and the replica's own checkpoint is kept.
    await fileCheckpointSink(path)({ ...newer!, seq: 99 });
    expect(await b.newest()).toStrictEqual(older);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(InvalidCheckpointError);
  });

  it('refuses to sign a head that went backwards or does not verify', async () => {
    const entries = await writtenChain(10);
    const live = [...entries];
    const checkpointer = createCheckpointer({ store: rawStore(live), hmacKey, everyMs: 0, sink: () => {} });
    expect(await checkpointer.checkpointNow()).toMatchObject({ seq: 10 });
    live.splice(8);
    await expect(checkpointer.checkpointNow()).rejects.toBeInstanceOf(AuditTamperError);

    const forged = [...entries.slice(0, 9), { ...at(entries, 10), body: '{"seq":10}' }];
    const fresh = createCheckpointer({ store: rawStore(forged), hmacKey, everyMs: 0, sink: () => {} });
    await expect(fresh.checkpointNow()).rejects.toBeInstanceOf(AuditTamperError);
  });
});
