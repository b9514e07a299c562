/**
 * The audit chain on a real Redis: two replicas sharing one chain, tampering
 * done with a raw client on the stream, and Redis dying under the writer.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditCheckpoint } from '../../src/audit/checkpoint.js';
import { createCheckpointer } from '../../src/audit/checkpointer.js';
import type { AuditEventInput, AuditWriter } from '../../src/audit/events.js';
import { verifyChain, verifyTrail } from '../../src/audit/verify.js';
import { createAuditWriter } from '../../src/audit/writer.js';
import { connectRedisStores } from '../../src/store/redis/index.js';
import { StoreUnavailableError } from '../../src/store/errors.js';
import { AuditChainCountError, auditChainOf, type AuditStore } from '../../src/store/audit-store.js';
import { type Stores } from '../../src/store/stores.js';
import { homeless, passThrough } from '../helpers/audit-writers.js';
import { startRedis, type RedisHandle } from '../helpers/redis-server.js';

const hmacKey = randomBytes(32);
let redis: RedisHandle;
let raw: Redis;
const opened: Stores[] = [];

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  raw.disconnect();
  await redis.stop();
});

async function replica(keyPrefix: string, auditChains?: number): Promise<Stores> {
  const stores = await connectRedisStores({ url: redis.url, keyPrefix, ...(auditChains !== undefined && { auditChains }) });
  opened.push(stores);
  return stores;
}

/** Counts appends, head conflicts and turns taken by a conflict, to show group commit and re-chaining at work. */
function counted(inner: AuditStore) {
  const stats = { appends: 0, conflicts: 0, records: 0, turnsTaken: 0 };
  // Homeless (no writer presence), so the replicas here all write the one chain their events' key picks.
  const store: AuditStore = {
    ...passThrough(homeless(inner)),
    async append(chain, head, entries, turn, claimMs) {
      stats.appends += 1;
      const result = await inner.append(chain, head, entries, turn, claimMs);
      if (result.ok) stats.records += entries.length;
      else stats.conflicts += 1;
      if (!result.ok && result.turnTaken === true) stats.turnsTaken += 1;
      return result;
    },
  };
  return { store, stats };
}

/** The chain the events below go to (they name no grant, user or actor: their action picks it). */
const E = auditChainOf({ action: 'token.exchange' }, 16);

const event = (n: number, replicaName: string): AuditEventInput => ({
  action: 'token.exchange',
  decision: 'allow',
  requestId: `${replicaName}-${n}`,
  gateway: 'spiffe://corp.example/gateway',
});

/** Waits (up to 5 s) until Redis answers again through these stores. */
async function answering(stores: Stores): Promise<void> {
  await expect
    .poll(
      () =>
        stores.ping().then(
          () => true,
          () => false,
        ),
      { timeout: 5000 },
    )
    .toBe(true);
}

async function writeChain(writer: AuditWriter, n: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, (_, i) => writer.record(event(i, 'w'))));
}

/** Rebuilds the stream with `edit` applied, keeping ids: what an attacker does to change the middle. */
async function rebuildStream(key: string, edit: (rows: [string, string[]][]) => [string, string[]][]): Promise<void> {
  const rows = edit(await raw.xrange(key, '-', '+'));
  const tx = raw.multi().del(key);
  for (const [id, fields] of rows) tx.xadd(key, id, ...fields);
  await tx.exec();
}

describe('audit chain on Redis', () => {
  it('two replicas appending 300 events each concurrently build one gap-free chain of 600 that verifies', async () => {
    const [a, b] = [counted((await replica('two:')).audit), counted((await replica('two:')).audit)];
    const wa = createAuditWriter({ store: a.store, hmacKey });
    const wb = createAuditWriter({ store: b.store, hmacKey });
    const started = performance.now();
    await Promise.all([...Array.from({ length: 300 }, (_, n) => wa.record(event(n, 'a'))), ...Array.from({ length: 300 }, (_, n) => wb.record(event(n, 'b')))]);
    const elapsed = performance.now() - started;

    const entries = await a.store.range(E, 1, 1000);
    expect(entries.map((e) => e.seq)).toStrictEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    const ids = new Set(entries.map((e) => (JSON.parse(e.body) as { requestId: string }).requestId));
    expect(ids.size).toBe(600);
    expect(await verifyChain(b.store, hmacKey, { chain: E, pageSize: 128 })).toMatchObject({ ok: true, records: 600 });
    expect(a.stats.records + b.stats.records).toBe(600);
    console.info(
      `two replicas, 600 records in ${elapsed.toFixed(1)} ms: ` +
        `replica A ${a.stats.appends} appends (${a.stats.conflicts} conflicts), ` +
        `replica B ${b.stats.appends} appends (${b.stats.conflicts} conflicts)`,
    );
  });

  it('four replicas appending continuously never give up: contended writers take turns (one gap-free chain)', async () => {
    const replicas = await Promise.all(Array.from({ length: 4 }, async () => counted((await replica('turns:')).audit)));
    const writers = replicas.map((r) => createAuditWriter({ store: r.store, hmacKey }));
    const until = performance.now() + 1_500;
    let written = 0;
    const failures: string[] = [];
    await Promise.all(
      writers.flatMap((w, r) =>
        Array.from({ length: 16 }, async (_, loop) => {
          for (let n = 0; performance.now() < until; n++) {
            await w.record(event(n, `r${r}-l${loop}`)).then(
              () => (written += 1),
              (err: Error) => failures.push(err.name),
            );
          }
        }),
      ),
    );
    expect(failures).toStrictEqual([]);
    // Contention really happened, the losers took the turn in the refusing append, and every record is in the one chain.
    expect(replicas.reduce((sum, r) => sum + r.stats.conflicts, 0)).toBeGreaterThan(0);
    expect(replicas.reduce((sum, r) => sum + r.stats.turnsTaken, 0)).toBeGreaterThan(0);
    expect(await verifyChain(replicas[0]!.store, hmacKey, { chain: E, pageSize: 512 })).toMatchObject({ ok: true, records: written });
  });

  it('puts each chain under its own hash tag: the 16 chains spread over Cluster slots and all three masters of a 3-master cluster', async () => {
    // CLUSTER KEYSLOT needs cluster support on; a node with no slots assigned answers it.
    const node = await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']);
    const client = new Redis(node.url, { maxRetriesPerRequest: 1 });
    try {
      const slotsOf = async (key: (chain: number) => string) =>
        Promise.all(Array.from({ length: 16 }, (_, chain) => client.call('CLUSTER', 'KEYSLOT', key(chain)) as Promise<number>));
      const log = await slotsOf((c) => `tv:{audit:${c}}:log`);
      // Every key of one chain is in its slot (one script per append), and no two chains share one.
      for (const key of [(c: number) => `tv:{audit:${c}}:head`, (c: number) => `tv:{audit:${c}}:turn`, (c: number) => `tv:{audit:${c}}:grant:g-1`]) {
        expect(await slotsOf(key)).toStrictEqual(log);
      }
      expect(new Set(log).size).toBe(16);
      // `redis-cli --cluster create` with 3 masters gives each a third of the 16384 slots.
      const masters = new Set(log.map((slot) => Math.min(2, Math.floor(slot / Math.ceil(16384 / 3)))));
      expect(masters).toStrictEqual(new Set([0, 1, 2]));
    } finally {
      client.disconnect();
      await node.stop();
    }
  });

  it('three replicas writing many grants fill the chains side by side, each chain gap-free, with no give-up', async () => {
    const replicas = await Promise.all(Array.from({ length: 3 }, async () => counted((await replica('spread:')).audit)));
    const writers = replicas.map((r) => createAuditWriter({ store: r.store, hmacKey }));
    const failures: string[] = [];
    const records = await Promise.all(
      Array.from({ length: 900 }, (_, n) =>
        writers[n % 3]!.record({ ...event(n, `r${n % 3}`), grant: `g-${n % 97}` }).catch((err: Error) => (failures.push(err.name), undefined)),
      ),
    );
    expect(failures).toStrictEqual([]);
    const report = await verifyTrail(replicas[0]!.store, hmacKey, { pageSize: 128 });
    expect(report).toMatchObject({ ok: true, records: 900 });
    expect(report.chains.every((c) => c.records > 0)).toBe(true);
    // A grant's records are in its chain, in the order they were accepted.
    const g5 = records.filter((r) => r?.grant === 'g-5');
    expect(new Set(g5.map((r) => r!.chain)).size).toBe(1);
    expect((await replicas[1]!.store.latestForGrant('g-5', 100)).map((e) => e.seq)).toStrictEqual(g5.map((r) => r!.seq).sort((a, b) => b - a));
  });

  it('refuses to write a trail under another chain count: recorded at start, checked by every append', async () => {
    const four = await replica('layout:', 4);
    expect(await four.audit.claimChainCount()).toBe(4);
    const writer = createAuditWriter({ store: homeless(four.audit), hmacKey });
    await Promise.all(Array.from({ length: 40 }, (_, n) => writer.record({ ...event(n, 'four'), grant: `g-${n}` })));

    const sixteen = await replica('layout:', 16);
    expect(await sixteen.audit.claimChainCount()).toBe(4);
    const other = createAuditWriter({ store: homeless(sixteen.audit), hmacKey });
    // A grant the 4-chain trail already wrote to chain c (< 4): the 16-chain writer would put it in chain c too, or elsewhere.
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, n) => other.record({ ...event(n, 'sixteen'), grant: `g-${n}` })));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((r) => r.reason instanceof AuditChainCountError && r.reason instanceof StoreUnavailableError)).toBe(true);
    // The 4-chain trail itself is intact.
    expect(await verifyTrail(four.audit, hmacKey)).toMatchObject({ ok: true, records: 40 });
  });

  describe('tampering with a raw client', () => {
    let n = 0;
    async function chainOf(count: number) {
      const prefix = `tamper${++n}:`;
      const stores = await replica(prefix);
      const writer = createAuditWriter({ store: homeless(stores.audit), hmacKey });
      await writeChain(writer, count);
      expect(await verifyChain(stores.audit, hmacKey, { chain: E })).toMatchObject({ ok: true, records: count });
      return { store: stores.audit, writer, log: `${prefix}{audit:${E}}:log`, head: `${prefix}{audit:${E}}:head` };
    }

    it('detects a forged entry added with XADD', async () => {
      const { store, log } = await chainOf(50);
      const [[, last] = ['', []]] = await raw.xrevrange(log, '+', '-', 'COUNT', 1);
      const body = JSON.stringify({ action: 'grant.revoke', decision: 'allow', seq: 51, time: new Date().toISOString() });
      await raw.xadd(
        log,
        '*',
        'seq',
        '51',
        'prev',
        last[5] ?? '',
        'hash',
        randomBytes(32).toString('base64url'),
        'time',
        new Date().toISOString(),
        'body',
        body,
      );
      expect(await verifyChain(store, hmacKey, { chain: E })).toMatchObject({ ok: false, records: 50, firstBroken: { seq: 51, reason: 'hash_mismatch' } });
    });

    it('detects an entry removed with XDEL', async () => {
      const { store, log } = await chainOf(50);
      expect(await raw.xdel(log, '20-0')).toBe(1);
      expect(await verifyChain(store, hmacKey, { chain: E })).toMatchObject({ ok: false, records: 19, firstBroken: { seq: 20, reason: 'seq_gap' } });
    });

    it('detects an entry modified by deleting and re-adding the stream', async () => {
      const { store, log } = await chainOf(50);
      await rebuildStream(log, (rows) => rows.map(([id, f]) => [id, id === '30-0' ? f.map((v) => v.replace('"allow"', '"deny"')) : f]));
      expect(await verifyChain(store, hmacKey, { chain: E })).toMatchObject({ ok: false, records: 29, firstBroken: { seq: 30, reason: 'hash_mismatch' } });
    });

    it('detects a reordered pair and a copy slipped in at a page boundary', async () => {
      const { store, log } = await chainOf(50);
      await rebuildStream(log, (rows) => rows.map(([id], i) => [id, (rows[i === 29 ? 30 : i === 30 ? 29 : i] ?? ['', []])[1]]));
      expect(await verifyChain(store, hmacKey, { chain: E })).toMatchObject({ ok: false, records: 29, firstBroken: { seq: 30, reason: 'seq_order' } });

      const other = await chainOf(50);
      await rebuildStream(other.log, (rows) => {
        const copy = rows[9]?.[1] ?? [];
        return [...rows.slice(0, 25), ['25-1', copy], ...rows.slice(25)];
      });
      expect(await verifyChain(other.store, hmacKey, { chain: E, pageSize: 25 })).toMatchObject({
        ok: false,
        records: 25,
        firstBroken: { seq: 26, reason: 'seq_order' },
      });
    });

    it('detects a truncated tail against a checkpoint kept outside Redis, and refuses to write on it', async () => {
      const { store, writer, log, head } = await chainOf(50);
      let saved: AuditCheckpoint | undefined;
      const checkpointer = createCheckpointer({ store, hmacKey, everyMs: 0, sink: (cps) => void (saved = cps.find((cp) => cp.chain === E)) });
      await checkpointer.checkpointNow();
      expect(saved).toMatchObject({ seq: 50 });

      const rows = await raw.xrange(log, '45-0', '45-0');
      await raw.xdel(log, '46-0', '47-0', '48-0', '49-0', '50-0');
      await raw.hset(head, 'seq', '45', 'hash', rows[0]?.[1][5] ?? '');
      expect(await verifyChain(store, hmacKey, { chain: E })).toMatchObject({ ok: true, records: 45 });
      expect(await verifyChain(store, hmacKey, { chain: E, checkpoint: saved! })).toMatchObject({
        ok: false,
        records: 45,
        firstBroken: { seq: 46, reason: 'truncated' },
      });
      await expect(checkpointer.checkpointNow()).rejects.toThrow('behind its last checkpoint');
      // The stream still remembers id 50-0, so re-chaining on seq 45 cannot be appended: audit fails closed.
      await expect(writer.record(event(1, 'after'))).rejects.toBeInstanceOf(StoreUnavailableError);
    });
  });

  it('checkpoints at least every second while records are written, and not at all while idle', async () => {
    const { store, stats } = counted((await replica('cadence:')).audit);
    const heads = { reads: 0 };
    const watched: AuditStore = { ...store, head: (chain) => (heads.reads++, store.head(chain)), heads: () => (heads.reads++, store.heads()) };
    const signed: Array<{ at: number; seq: number }> = [];
    // Default cadence, as the vault runs it (src/boot.ts passes no everyMs).
    const checkpointer = createCheckpointer({
      store: watched,
      hmacKey,
      sink: (cps) => void signed.push({ at: performance.now(), seq: cps.find((cp) => cp.chain === E)?.seq ?? 0 }),
    });
    const writer = createAuditWriter({ store: watched, hmacKey, onCommit: checkpointer.observe });
    try {
      const started = performance.now();
      let n = 0;
      while (performance.now() - started < 3_000) {
        await writer.record(event(n++, 'steady'));
        await new Promise((r) => setTimeout(r, 10));
      }
      const stopped = performance.now();
      const written = stats.records;
      // The writes' last second is signed within the next one.
      await expect.poll(() => signed.at(-1)?.seq, { timeout: 2_000, interval: 50 }).toBe(written);
      const gaps = signed.slice(1).map((s, i) => s.at - signed[i]!.at);
      expect(signed.length).toBeGreaterThanOrEqual(3);
      expect(signed[0]!.at - started).toBeLessThan(1_500);
      // 1 s plus a generous margin for a loaded machine.
      expect(Math.max(...gaps)).toBeLessThan(1_600);
      expect(signed.at(-1)!.at - stopped).toBeLessThan(1_600);

      // Idle: no timer reads the head, nothing is signed.
      const [count, reads] = [signed.length, heads.reads];
      await new Promise((r) => setTimeout(r, 2_500));
      expect([signed.length, heads.reads]).toStrictEqual([count, reads]);
    } finally {
      await checkpointer.stop();
    }
  }, 15_000);

  it('rejects record() in under a second when Redis is killed, and writes again once it is back', async () => {
    const stores = await replica('kill:');
    const writer = createAuditWriter({ store: homeless(stores.audit), hmacKey });
    await writeChain(writer, 10);
    await redis.kill();
    const started = performance.now();
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => writer.record(event(i, 'dead'))));
    const elapsed = performance.now() - started;
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof StoreUnavailableError)).toBe(true);
    expect(elapsed).toBeLessThan(1000);
    console.info(`Redis killed: 20 record() calls rejected in ${elapsed.toFixed(1)} ms`);

    await redis.restart();
    await answering(stores);
    expect(await writer.record(event(99, 'back'))).toMatchObject({ seq: 11 });
    expect(await verifyChain(stores.audit, hmacKey, { chain: E })).toMatchObject({ ok: true, records: 11 });
  });

  it('rejects record() within the command timeout when Redis hangs, and the late write does not fork the chain', async () => {
    const stores = await replica('hang:');
    const writer = createAuditWriter({ store: homeless(stores.audit), hmacKey });
    await writeChain(writer, 5);
    redis.pause();
    const started = performance.now();
    try {
      await expect(writer.record(event(1, 'hung'))).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      redis.resume();
    }
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(1000);
    console.info(`Redis hung: record() rejected in ${elapsed.toFixed(1)} ms`);
    // The timed-out append may still have run ("outcome unknown"): either way the chain stays one chain.
    await answering(stores);
    const next = await writer.record(event(2, 'after'));
    expect([6, 7]).toContain(next.seq);
    expect(await verifyChain(stores.audit, hmacKey, { chain: E })).toMatchObject({ ok: true, records: next.seq });
  });
});
