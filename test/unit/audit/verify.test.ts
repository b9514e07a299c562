import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chainRecords } from '../../../src/audit/chain.js';
import { fileCheckpointSink, readCheckpointFile, signCheckpoint, type AuditCheckpoint } from '../../../src/audit/checkpoint.js';
import { createCheckpointer } from '../../../src/audit/checkpointer.js';
import { AuditTamperError, InvalidCheckpointError } from '../../../src/audit/errors.js';
import { deriveAuditKeys } from '../../../src/audit/keys.js';
import { verifyChain, verifyTrail } from '../../../src/audit/verify.js';
import { createAuditWriter } from '../../../src/audit/writer.js';
import { createMemoryStores } from '../../../src/store/memory/index.js';
import type { AuditEntry, AuditStore } from '../../../src/store/audit-store.js';

const hmacKey = randomBytes(32);

/**
 * One chain in the memory store's layout (array position = seq - 1, range by position) with
 * the array exposed, standing in for someone editing the stored chain directly.
 */
function rawStore(entries: AuditEntry[]): AuditStore {
  const head = async () => {
    const l = entries[entries.length - 1];
    return l ? { seq: l.seq, hash: l.hash } : null;
  };
  const unused = async (): Promise<never> => {
    throw new Error('not used by the verifier');
  };
  return {
    chains: 1,
    head,
    heads: async () => [await head()],
    floor: async () => null,
    trimArchived: unused,
    claimChainCount: unused,
    append: async () => {
      throw new Error('read-only');
    },
    range: async (_chain, from, count) => entries.slice(Math.max(from, 1) - 1, Math.max(from, 1) - 1 + count).map((e) => ({ ...e })),
    reverseRange: async () => {
      throw new Error('not used by the verifier');
    },
    latestForGrant: unused,
    latestForGrantIn: unused,
  };
}

async function writtenChain(n: number): Promise<AuditEntry[]> {
  const store = createMemoryStores(1).audit;
  const writer = createAuditWriter({ store, hmacKey });
  await Promise.all(Array.from({ length: n }, (_, i) => writer.record({ action: 'token.exchange', decision: 'allow', requestId: `r${i}` })));
  return store.range(0, 1, n);
}

const at = (entries: AuditEntry[], seq: number): AuditEntry => entries[seq - 1]!;

describe('audit chain verification', () => {
  it('accepts an intact chain across page boundaries', async () => {
    const entries = await writtenChain(25);
    expect(await verifyChain(rawStore(entries), hmacKey, { pageSize: 4 })).toStrictEqual({
      chain: 0,
      ok: true,
      records: 25,
      head: { seq: 25, hash: at(entries, 25).hash },
    });
    expect(await verifyChain(rawStore([]), hmacKey)).toStrictEqual({ chain: 0, ok: true, records: 0 });
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
    } = chainRecords(forgedKey, 0, { seq: 5, hash: at(entries, 5).hash }, [{ action: 'grant.revoke', decision: 'allow', time: new Date().toISOString() }]);
    const shifted = entries.slice(5).map((e) => ({ ...e, seq: e.seq + 1 }));
    const inserted = [...entries.slice(0, 5), forged!, ...shifted];
    expect(await verifyChain(rawStore(inserted), hmacKey)).toMatchObject({ records: 5, firstBroken: { seq: 6, reason: 'hash_mismatch' } });

    const appended = [...entries, { chain: 0, seq: 11, prev: at(entries, 10).hash, hash: 'forged', time: at(entries, 10).time, body: '{"chain":0,"seq":11}' }];
    expect(await verifyChain(rawStore(appended), hmacKey)).toMatchObject({ records: 10, firstBroken: { seq: 11, reason: 'hash_mismatch' } });
  });

  it('reports an entry it cannot parse as malformed', async () => {
    const entries = await writtenChain(3);
    entries[1] = { ...at(entries, 2), seq: Number.NaN };
    expect(await verifyChain(rawStore(entries), hmacKey)).toMatchObject({ firstBroken: { seq: 2, reason: 'malformed' } });
  });

  it('detects a truncated tail only with a checkpoint, also after the chain grew again', async () => {
    const entries = await writtenChain(20);
    const checkpoint = signCheckpoint(hmacKey, 0, { seq: 20, hash: at(entries, 20).hash }, new Date().toISOString());
    const truncated = entries.slice(0, 17);
    expect(await verifyChain(rawStore(truncated), hmacKey)).toMatchObject({ ok: true, records: 17 });
    expect(await verifyChain(rawStore(truncated), hmacKey, { checkpoint })).toMatchObject({
      ok: false,
      records: 17,
      firstBroken: { seq: 18, reason: 'truncated' },
    });
    expect(await verifyChain(rawStore([]), hmacKey, { checkpoint })).toMatchObject({ ok: false, firstBroken: { seq: 1, reason: 'truncated' } });

    // Writers carry on after the cut: the chain is valid and long again, but not the one checkpointed.
    const store = createMemoryStores(1).audit;
    await store.append(0, null, truncated);
    const writer = createAuditWriter({ store, hmacKey });
    for (let i = 0; i < 5; i++) await writer.record({ action: 'admin.action', decision: 'allow' });
    expect(await verifyChain(store, hmacKey, { checkpoint })).toMatchObject({ ok: false, records: 19, firstBroken: { seq: 20, reason: 'truncated' } });
    expect(await verifyChain(rawStore(entries), hmacKey, { checkpoint })).toMatchObject({ ok: true, records: 20 });
  });

  it('counts the records that follow the checkpoint (what a cut could still erase unnoticed)', async () => {
    const entries = await writtenChain(25);
    const checkpoint = signCheckpoint(hmacKey, 0, { seq: 20, hash: at(entries, 20).hash }, new Date().toISOString());
    expect(await verifyChain(rawStore(entries), hmacKey, { checkpoint, pageSize: 4 })).toStrictEqual({
      chain: 0,
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
    const checkpoint = signCheckpoint(hmacKey, 0, { seq: 3, hash: at(entries, 3).hash }, new Date().toISOString());
    await expect(verifyChain(rawStore(entries), hmacKey, { checkpoint: { ...checkpoint, seq: 2 } })).rejects.toBeInstanceOf(InvalidCheckpointError);
    // Another chain's checkpoint does not stand in for this one's.
    await expect(verifyChain(rawStore(entries), hmacKey, { checkpoint: { ...checkpoint, chain: 1 } })).rejects.toBeInstanceOf(InvalidCheckpointError);
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
    const store = createMemoryStores(1).audit;
    const written: AuditCheckpoint[][] = [];
    const fileSink = fileCheckpointSink(path, hmacKey);
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
    await checkpointer.stop();

    // Background checkpoints run while records keep coming, so exact seqs depend on timing.
    const seqs = written.map((c) => c[0]!.seq);
    expect(seqs.length).toBeGreaterThanOrEqual(2);
    expect(seqs[0]).toBeGreaterThanOrEqual(10);
    expect(seqs).toStrictEqual([...seqs].sort((a, b) => a - b));
    expect(seqs.at(-1)).toBe(25);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const fromFile = await readCheckpointFile(path, hmacKey);
    expect(fromFile).toStrictEqual(written.at(-1));
    expect(await verifyChain(store, hmacKey, { checkpoint: fromFile![0]! })).toMatchObject({ ok: true, records: 25 });
    expect(await readCheckpointFile(join(dir, 'absent.json'), hmacKey)).toBeNull();
  });

  it("reports the newest checkpoint, another replica's from the shared file included", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tv-audit-'));
    dirs.push(dir);
    const path = join(dir, 'checkpoint.json');
    const store = createMemoryStores(1).audit;
    const errors: unknown[] = [];
    const replica = () =>
      createCheckpointer({
        store,
        hmacKey,
        everyMs: 0,
        sink: fileCheckpointSink(path, hmacKey),
        load: () => readCheckpointFile(path, hmacKey),
        onError: (e) => errors.push(e),
      });
    const [a, b] = [replica(), replica()];
    const writer = createAuditWriter({ store, hmacKey });
    for (let i = 0; i < 5; i++) await writer.record({ action: 'token.forward', decision: 'allow' });
    const [older] = await b.checkpointNow();
    for (let i = 0; i < 5; i++) await writer.record({ action: 'token.forward', decision: 'allow' });
    const [newer] = await a.checkpointNow();
    expect([older?.seq, newer?.seq]).toStrictEqual([5, 10]);
    expect(await b.newest()).toStrictEqual([newer]);
    // A file holding an older (or no) checkpoint never hides the replica's own newer one.
    await writeFile(path, JSON.stringify({ checkpoints: [older] }));
    expect(await a.newest()).toStrictEqual([newer]);
    // A forged file is reported, and the replica's own checkpoint is kept.
    await writeFile(path, JSON.stringify({ checkpoints: [{ ...newer!, seq: 99 }] }));
    expect(await b.newest()).toStrictEqual([older]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(InvalidCheckpointError);
  });

  it('refuses to sign a head that went backwards or does not verify', async () => {
    const entries = await writtenChain(10);
    const live = [...entries];
    const checkpointer = createCheckpointer({ store: rawStore(live), hmacKey, everyMs: 0, sink: () => {} });
    expect(await checkpointer.checkpointNow()).toMatchObject([{ chain: 0, seq: 10 }]);
    live.splice(8);
    await expect(checkpointer.checkpointNow()).rejects.toBeInstanceOf(AuditTamperError);

    const forged = [...entries.slice(0, 9), { ...at(entries, 10), body: '{"chain":0,"seq":10}' }];
    const fresh = createCheckpointer({ store: rawStore(forged), hmacKey, everyMs: 0, sink: () => {} });
    await expect(fresh.checkpointNow()).rejects.toBeInstanceOf(AuditTamperError);
  });

  it('signs only the chains written to, each on its own, and still stores the others when one was rolled back', async () => {
    const store = createMemoryStores(16).audit;
    const signed: AuditCheckpoint[][] = [];
    const checkpointer = createCheckpointer({ store, hmacKey, everyMs: 0, sink: (cps) => void signed.push(cps) });
    const writer = createAuditWriter({ store, hmacKey, onCommit: checkpointer.observe });
    const a = await writer.record({ action: 'token.forward', decision: 'allow', grant: 'g-1' });
    const b = await writer.record({ action: 'token.forward', decision: 'allow', grant: 'g-2' });
    expect(a.chain).not.toBe(b.chain);
    const all = await checkpointer.checkpointNow();
    expect(all.map((cp) => [cp.chain, cp.seq])).toStrictEqual([
      [Math.min(a.chain, b.chain), 1],
      [Math.max(a.chain, b.chain), 1],
    ]);
    expect(checkpointer.latest().filter((cp) => cp !== undefined)).toStrictEqual(all);
    expect(await verifyTrail(store, hmacKey, { checkpoints: checkpointer.latest() })).toMatchObject({ ok: true, records: 2 });

    // Chain a's head is rolled back (a copy of the trail with chain a emptied): a is reported, b still signed.
    const rolled = createMemoryStores(16).audit;
    const sign = createCheckpointer({ store: rolled, hmacKey, everyMs: 0, initial: all, sink: (cps) => void signed.push(cps) });
    const copy = createAuditWriter({ store: rolled, hmacKey });
    await copy.record({ action: 'token.forward', decision: 'allow', grant: 'g-2' });
    await copy.record({ action: 'token.forward', decision: 'allow', grant: 'g-2' });
    const err = await sign.checkpointNow().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuditTamperError);
    expect((err as AuditTamperError).chain).toBe(a.chain);
    expect(signed.at(-1)!.find((cp) => cp.chain === b.chain)).toMatchObject({ seq: 2 });
  });
});

describe('audit trail verification', () => {
  it('reports every chain, starts a trimmed chain at its floor, and refuses an entry moved to another chain', async () => {
    const store = createMemoryStores(4).audit;
    const writer = createAuditWriter({ store, hmacKey });
    const records = await Promise.all(Array.from({ length: 40 }, (_, i) => writer.record({ action: 'token.exchange', decision: 'allow', grant: `g-${i}` })));
    const report = await verifyTrail(store, hmacKey, { pageSize: 3 });
    expect(report.ok).toBe(true);
    expect(report.records).toBe(40);
    expect(report.chains.map((c) => c.chain)).toStrictEqual([0, 1, 2, 3]);
    expect(report.chains.map((c) => c.records)).toStrictEqual([0, 1, 2, 3].map((c) => records.filter((r) => r.chain === c).length));

    const chain = records[0]!.chain;
    const count = records.filter((r) => r.chain === chain).length;
    const firstTwo = await store.range(chain, 1, 2);
    expect(await store.trimArchived(chain, 2, Date.now() + 60_000)).toBe(2);
    expect(await verifyChain(store, hmacKey, { chain })).toMatchObject({
      chain,
      ok: true,
      records: count - 2,
      floor: { seq: 2, hash: firstTwo[1]!.hash },
    });

    // A chain's entries stored as another chain (same seqs, same MACs): the bodies name their own chain.
    const other = (chain + 1) % 4;
    const copy = createMemoryStores(4).audit;
    await copy.append(
      other,
      null,
      firstTwo.map((e) => ({ ...e, chain: other })),
    );
    expect(await verifyChain(copy, hmacKey, { chain: other })).toMatchObject({ ok: false, records: 0, firstBroken: { seq: 1, reason: 'malformed' } });
  });
});
