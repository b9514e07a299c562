/**
 * The PostgreSQL audit archive on private PostgreSQL and Redis servers: the runtime role's rights,
 * the archiver (exactly once, also with two at a time), retention that trims only archived records,
 * and reads across the Redis/PostgreSQL boundary (queries with stable paging, export, history);
 * over several chains, every chain is archived, anchored and verified on its own, and a floor in
 * Redis that the archive does not cover is a gap.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryAudit } from '../../../src/admin/audit-query.js';
import { createArchiver, type ArchiverOptions } from '../../../src/audit/archive/archiver.js';
import { migrateArchive, pendingMigrations } from '../../../src/audit/archive/migrate.js';
import { PgAuditArchive } from '../../../src/audit/archive/pg-archive.js';
import { auditStoreSource } from '../../../src/audit/archive/source.js';
import { tieredAuditStore } from '../../../src/audit/archive/tiered-store.js';
import { verifyArchive } from '../../../src/audit/archive/verify-archive.js';
import { createCheckpointer } from '../../../src/audit/checkpointer.js';
import type { AuditRecord } from '../../../src/audit/events.js';
import { verifyChain, verifyTrail } from '../../../src/audit/verify.js';
import { createAuditWriter } from '../../../src/audit/writer.js';
import { homeless } from '../../helpers/audit-writers.js';
import { connectRedisStores } from '../../../src/store/redis/index.js';
import type { Stores } from '../../../src/store/stores.js';
import { archiveEvent, archiveFixture } from '../../helpers/audit-archive.js';

const hmacKey = randomBytes(32);
const HOUR = 3_600_000;
const fx = archiveFixture('t');

/** Records `n` events, the first `old` of them two hours old (beyond a one-hour window). */
async function write(n: number, old = 0, grant?: (i: number) => string | undefined): Promise<AuditRecord[]> {
  let i = 0;
  const writer = createAuditWriter({ store: fx.stores.audit, hmacKey, now: () => (i <= old ? Date.now() - 2 * HOUR : Date.now()) });
  const records: AuditRecord[] = [];
  for (i = 1; i <= n; i++) records.push(await writer.record(archiveEvent(i, grant?.(i))));
  return records;
}

function archiver(overrides: Partial<ArchiverOptions> = {}) {
  return createArchiver({
    source: auditStoreSource(fx.stores.audit),
    archive: fx.db.archive,
    locks: fx.stores.locks,
    retentionMs: HOUR,
    lagWarnSeconds: 300,
    batchSize: 7,
    ...overrides,
  });
}

const archivedSeqs = async () =>
  (await fx.db.attacker.query<{ s: string }>('SELECT seq::text AS s FROM audit_records ORDER BY seq, time')).rows.map((r) => Number(r.s));
const liveSeqs = async () => (await fx.stores.audit.range(0, 1, 10_000)).map((e) => e.seq);
const seqs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('audit archive: roles and schema', () => {
  it('gives the runtime role SELECT and INSERT only: UPDATE, DELETE and TRUNCATE are refused', async () => {
    await write(3);
    await archiver().runOnce();
    const runtime = new pg.Client({ connectionString: fx.db.urls.runtime });
    await runtime.connect();
    try {
      for (const sql of [
        'UPDATE audit_records SET body = body',
        'DELETE FROM audit_records',
        'TRUNCATE audit_records',
        'UPDATE audit_checkpoints SET mac = mac',
        'DELETE FROM audit_checkpoints',
        'TRUNCATE audit_checkpoints',
        'DELETE FROM schema_migrations',
        'CREATE TABLE audit_records_x (n int)',
      ]) {
        await expect(runtime.query(sql), sql).rejects.toMatchObject({ code: '42501' });
      }
      expect((await runtime.query('SELECT count(*)::int AS n FROM audit_records')).rows).toStrictEqual([{ n: 3 }]);
    } finally {
      await runtime.end();
    }
    expect(await archivedSeqs()).toStrictEqual([1, 2, 3]);
  });

  it('applies the migrations once: a second run applies none, and nothing is pending', async () => {
    const owner = new pg.Client({ connectionString: fx.db.urls.owner });
    await owner.connect();
    try {
      expect(await migrateArchive(owner, `${fx.db.name}_runtime`)).toStrictEqual([]);
      expect(await pendingMigrations(owner)).toStrictEqual([]);
    } finally {
      await owner.end();
    }
    const fresh = await fx.server.createDatabase(`${fx.db.name}_fresh`);
    const client = new pg.Client({ connectionString: fresh.runtimeUrl });
    await client.connect();
    try {
      expect(await pendingMigrations(client)).toStrictEqual(['001_audit_records']);
    } finally {
      await client.end();
    }
  });

  it('creates this month and the next as partitions, and the month of an older record when it comes', async () => {
    await write(2, 1);
    await archiver().runOnce();
    const { rows } = await fx.db.attacker.query<{ name: string }>(
      "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_records'::regclass ORDER BY 1",
    );
    const month = (t: number) => `audit_records_${new Date(t).toISOString().slice(0, 7).replace('-', '_')}`;
    const now = new Date();
    const expected = new Set([month(Date.now() - 2 * HOUR), month(now.getTime()), month(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1))]);
    expect(rows.map((r) => r.name)).toStrictEqual([...expected].sort());
  });
});

describe('audit archiver', () => {
  it('archives every record once, re-running changes nothing, and trims only archived records past the window', async () => {
    await write(20, 12);
    const a = archiver();
    await a.runOnce();
    expect(await archivedSeqs()).toStrictEqual(seqs(1, 20));
    expect(await liveSeqs()).toStrictEqual(seqs(13, 20));
    expect(a.lag()).toStrictEqual([{ chain: 0, archivedThrough: 20, lagSeconds: 0 }]);

    await a.runOnce();
    expect(await archivedSeqs()).toStrictEqual(seqs(1, 20));
    expect(await liveSeqs()).toStrictEqual(seqs(13, 20));
  });

  it('never trims a record the archive does not hold, however old', async () => {
    await write(10, 10);
    // An archive that fails every insert: nothing archived, nothing trimmed.
    const failing = new (class extends PgAuditArchive {
      override insert(): Promise<number> {
        return Promise.reject(new Error('archive down'));
      }
    })(fx.db.archive.pool);
    await expect(archiver({ archive: failing }).runOnce()).rejects.toThrow('archive down');
    expect(await liveSeqs()).toStrictEqual(seqs(1, 10));
    expect(await archivedSeqs()).toStrictEqual([]);
  });

  it('reports the age of the oldest unarchived record as lag, and warns past the threshold', async () => {
    await write(3, 3);
    const warnings: object[] = [];
    const log = { warn: (obj: object) => warnings.push(obj), error: () => {} };
    const lease = await fx.stores.locks.acquire('audit-archive:0', 60_000);
    // Another replica holds the lease: this one only measures.
    const a = archiver({ log, lagWarnSeconds: 60 });
    await a.runOnce();
    expect(a.lag()).toStrictEqual([{ chain: 0, archivedThrough: 0, lagSeconds: expect.closeTo(7200, -2) as number }]);
    expect(warnings).toStrictEqual([{ chain: 0, lagSeconds: expect.closeTo(7200, -2) as number, archivedThrough: 0 }]);
    await fx.stores.locks.release('audit-archive:0', lease!);
    await a.runOnce();
    expect(a.lag()).toStrictEqual([{ chain: 0, archivedThrough: 3, lagSeconds: 0 }]);
  });

  it('two archivers at once archive each record exactly once, while records keep coming', async () => {
    const a = archiver({ batchSize: 5, intervalMs: 5 });
    const b = archiver({ batchSize: 3, intervalMs: 5 });
    a.start();
    b.start();
    await write(150, 100);
    await expect.poll(async () => (await archivedSeqs()).length, { timeout: 20_000 }).toBe(150);
    // A pass trims at most ten batches, so the old records may take a few more passes to go.
    await expect.poll(async () => (await liveSeqs())[0], { timeout: 20_000 }).toBe(101);
    await Promise.all([a.stop(), b.stop()]);
    expect(await archivedSeqs()).toStrictEqual(seqs(1, 150));
    expect(await liveSeqs()).toStrictEqual(seqs(101, 150));
  });

  it('stores signed checkpoints of archived heads with the records', async () => {
    const records = await write(5);
    const head = { seq: 5, hash: (await fx.stores.audit.range(0, 5, 1))[0]!.hash };
    const { signCheckpoint } = await import('../../../src/audit/checkpoint.js');
    const cp = signCheckpoint(hmacKey, 0, head, new Date().toISOString());
    await archiver({ checkpoint: async () => [cp] }).runOnce();
    expect(await fx.db.archive.checkpoints(0)).toStrictEqual([cp]);
    expect(await verifyArchive(fx.db.archive, hmacKey, 1)).toStrictEqual({
      ok: true,
      records: 5,
      chains: [{ chain: 0, ok: true, records: 5, head, anchor: cp, afterCheckpoint: 0, forgedCheckpoints: 0 }],
    });
    expect(records.map((r) => r.seq)).toStrictEqual(seqs(1, 5));
  });
});

describe('audit reads across the Redis/PostgreSQL boundary', () => {
  it('pages a query newest first across the boundary, stable while the boundary moves between pages', async () => {
    await write(30, 20);
    const a = archiver({ retentionMs: HOUR });
    await a.runOnce();
    expect((await liveSeqs())[0]).toBe(21);
    const tiered = tieredAuditStore(fx.stores.audit, fx.db.archive);

    const seen: number[] = [];
    let cursor: number[] | undefined;
    let pages = 0;
    do {
      const page = await queryAudit(tiered, {}, 7, cursor);
      seen.push(...page.items.map((r) => r.seq));
      cursor = page.next === undefined ? undefined : page.next.split('.').map(Number);
      // Between two pages, retention moves the boundary: the cursor still means the same record.
      if (++pages === 1) await archiver({ retentionMs: 0 }).runOnce();
    } while (cursor !== undefined);
    expect(seen).toStrictEqual(seqs(1, 30).reverse());
    expect(await liveSeqs()).toStrictEqual([]);
  });

  it('filters across the boundary (the user history of one grant, newest first)', async () => {
    await write(24, 16, (i) => (i % 3 === 0 ? 'g-1' : undefined));
    await archiver().runOnce();
    const tiered = tieredAuditStore(fx.stores.audit, fx.db.archive);
    const page = await queryAudit(tiered, { grant: 'g-1' }, 100);
    expect(page.items.map((r) => r.seq)).toStrictEqual([24, 21, 18, 15, 12, 9, 6, 3]);
    expect((await tiered.latestForGrant('g-1', 5)).map((e) => e.seq)).toStrictEqual([24, 21, 18, 15, 12]);
    expect((await tiered.latestForGrant('g-1', 50)).map((e) => e.seq)).toStrictEqual([24, 21, 18, 15, 12, 9, 6, 3]);
  });

  it('exports and verifies the whole chain from both tiers, oldest first', async () => {
    await write(25, 18);
    await archiver().runOnce();
    const tiered = tieredAuditStore(fx.stores.audit, fx.db.archive);
    const all = [...(await tiered.range(0, 1, 10)), ...(await tiered.range(0, 11, 10)), ...(await tiered.range(0, 21, 10))];
    expect(all.map((e) => e.seq)).toStrictEqual(seqs(1, 25));
    expect(await tiered.range(0, 17, 4)).toStrictEqual([...(await fx.db.archive.range(0, 17, 2)), ...(await fx.stores.audit.range(0, 19, 2))]);
    const report = await verifyChain(tiered, hmacKey, { pageSize: 4 });
    expect(report).toStrictEqual({ chain: 0, ok: true, records: 25, head: await fx.stores.audit.head(0) });
  });
});

const CHAINS = 4;
let multi: Stores;

/** Records `n` events over 8 grants (so over every chain), two hours old unless `recent`. */
async function writeSpread(from: number, n: number, recent = false): Promise<void> {
  // Without homes: each call starts a writer, and two live writers would each write one chain of their own.
  const writer = createAuditWriter({ store: homeless(multi.audit), hmacKey, now: () => (recent ? Date.now() : Date.now() - 2 * HOUR) });
  for (let i = from; i < from + n; i++) await writer.record(archiveEvent(i, `g-${i % 8}`));
}

const chainsArchiver = (checkpoint?: ArchiverOptions['checkpoint']) =>
  createArchiver({
    source: auditStoreSource(multi.audit),
    archive: fx.db.archive,
    locks: multi.locks,
    retentionMs: HOUR,
    lagWarnSeconds: 300,
    batchSize: 5,
    ...(checkpoint !== undefined && { checkpoint }),
  });
const chainHeads = async () => (await multi.audit.heads()).map((h) => h?.seq ?? 0);
const liveOldest = async () => Promise.all(Array.from({ length: CHAINS }, async (_, c) => (await multi.audit.range(c, 1, 1))[0]?.seq));
const archivedThrough = async () => Promise.all(Array.from({ length: CHAINS }, (_, c) => fx.db.archive.archivedThrough(c)));

describe('audit archive over several chains', () => {
  beforeEach(async () => {
    multi = await connectRedisStores({ url: fx.redis.url, keyPrefix: fx.nextPrefix('c'), auditChains: CHAINS });
  });

  afterEach(async () => {
    await multi.close();
  });

  it('archives and trims every chain, anchors each to its checkpoint, and reads and verifies every chain across the boundary', async () => {
    await writeSpread(1, 40);
    await writeSpread(41, 8, true);
    const checkpointer = createCheckpointer({ store: multi.audit, hmacKey, sink: () => {}, everyMs: 0 });
    await checkpointer.checkpointNow();
    const checkpoints = checkpointer.latest();
    const a = chainsArchiver(() => checkpointer.newest());
    await a.runOnce();

    const head = await chainHeads();
    expect(head.every((seq) => seq > 0)).toBe(true);
    expect(await archivedThrough()).toStrictEqual(head);
    expect(a.lag().map((l) => l.chain)).toStrictEqual([0, 1, 2, 3]);
    // Only the recent records (one per grant) are left in Redis, each chain its own floor.
    const oldest = await liveOldest();
    expect((await multi.audit.floor(0))?.seq).toBe((oldest[0] ?? head[0]! + 1) - 1);
    expect(await fx.db.archive.checkpoints(1)).toStrictEqual([checkpoints[1]]);

    const tiered = tieredAuditStore(multi.audit, fx.db.archive);
    const trail = await verifyTrail(tiered, hmacKey, { checkpoints, pageSize: 3 });
    expect(trail.ok).toBe(true);
    expect(trail.records).toBe(48);
    expect(trail.chains.map((r) => [r.chain, r.records, r.firstBroken])).toStrictEqual(head.map((seq, c) => [c, seq, undefined]));

    const alone = await verifyArchive(fx.db.archive, hmacKey, CHAINS);
    expect({ ok: alone.ok, records: alone.records }).toStrictEqual({ ok: true, records: 48 });
    expect(alone.chains.map((r) => [r.chain, r.anchor, r.forgedCheckpoints])).toStrictEqual(checkpoints.map((cp, c) => [c, cp, 0]));

    // The cross-chain query pages every record once, across every chain's boundary.
    const seen: string[] = [];
    let cursor: number[] | undefined;
    do {
      const page = await queryAudit(tiered, {}, 7, cursor);
      seen.push(...page.items.map((r) => r.requestId!));
      cursor = page.next?.split('.').map(Number);
    } while (cursor !== undefined);
    expect(seen.sort()).toStrictEqual(Array.from({ length: 48 }, (_, i) => `req-${i + 1}`).sort());
    expect((await tiered.latestForGrant('g-3', 10)).map((e) => JSON.parse(e.body).requestId)).toStrictEqual([43, 35, 27, 19, 11, 3].map((n) => `req-${n}`));
  });

  it('does not trust the floor in Redis: records trimmed but never archived are a gap in their chain', async () => {
    await writeSpread(1, 24);
    await chainsArchiver().runOnce();
    const archived = await chainHeads();
    await writeSpread(25, 16);
    // Trimmed straight from Redis (as by someone with Redis rights), never archived.
    await multi.audit.trimArchived(2, archived[2]! + 2, Date.now());
    const report = await verifyTrail(tieredAuditStore(multi.audit, fx.db.archive), hmacKey);
    expect(report.ok).toBe(false);
    expect(report.chains.map((r) => r.firstBroken)).toStrictEqual([undefined, undefined, { seq: archived[2]! + 1, reason: 'seq_gap' }, undefined]);
  });
});
