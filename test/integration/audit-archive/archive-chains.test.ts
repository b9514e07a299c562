/**
 * The PostgreSQL audit archive over a trail of several chains (private PostgreSQL and Redis): the
 * archiver copies and trims every chain, stores each chain's checkpoint, reads cross every chain's
 * Redis/PostgreSQL boundary, and a floor in Redis that the archive does not cover is a gap.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { queryAudit } from '../../../src/admin/audit-query.js';
import { createArchiver, type ArchiverOptions } from '../../../src/audit/archive/archiver.js';
import { auditStoreSource } from '../../../src/audit/archive/source.js';
import { tieredAuditStore } from '../../../src/audit/archive/tiered-store.js';
import { verifyArchive } from '../../../src/audit/archive/verify-archive.js';
import { createCheckpointer } from '../../../src/audit/checkpointer.js';
import { verifyTrail } from '../../../src/audit/verify.js';
import { createAuditWriter } from '../../../src/audit/writer.js';
import { connectRedisStores } from '../../../src/store/redis/index.js';
import type { Stores } from '../../../src/store/stores.js';
import { archiveDb, archiveEvent, type ArchiveDb } from '../../helpers/audit-archive.js';
import { startPostgres, type PostgresHandle } from '../../helpers/postgres-server.js';
import { startRedis, type RedisHandle } from '../../helpers/redis-server.js';

const hmacKey = randomBytes(32);
const HOUR = 3_600_000;
const CHAINS = 4;
let server: PostgresHandle;
let redis: RedisHandle;
let db: ArchiveDb;
let stores: Stores;
let prefixes = 0;

beforeAll(async () => {
  [server, redis] = await Promise.all([startPostgres(), startRedis()]);
});

afterAll(async () => {
  await Promise.all([server?.stop(), redis?.stop()]);
});

beforeEach(async () => {
  db = await archiveDb(server);
  stores = await connectRedisStores({ url: redis.url, keyPrefix: `c${++prefixes}:`, auditChains: CHAINS });
});

afterEach(async () => {
  await db.close();
  await stores.close();
});

/** Records `n` events over 8 grants (so over every chain), two hours old unless `recent`. */
async function write(from: number, n: number, recent = false): Promise<void> {
  const writer = createAuditWriter({ store: stores.audit, hmacKey, now: () => (recent ? Date.now() : Date.now() - 2 * HOUR) });
  for (let i = from; i < from + n; i++) await writer.record(archiveEvent(i, `g-${i % 8}`));
}

const archiver = (checkpoint?: ArchiverOptions['checkpoint']) =>
  createArchiver({
    source: auditStoreSource(stores.audit),
    archive: db.archive,
    locks: stores.locks,
    retentionMs: HOUR,
    lagWarnSeconds: 300,
    batchSize: 5,
    ...(checkpoint !== undefined && { checkpoint }),
  });
const heads = async () => (await stores.audit.heads()).map((h) => h?.seq ?? 0);
const liveOldest = async () => Promise.all(Array.from({ length: CHAINS }, async (_, c) => (await stores.audit.range(c, 1, 1))[0]?.seq));
const archivedThrough = async () => Promise.all(Array.from({ length: CHAINS }, (_, c) => db.archive.archivedThrough(c)));

describe('audit archive over several chains', () => {
  it('archives and trims every chain, anchors each to its checkpoint, and reads and verifies every chain across the boundary', async () => {
    await write(1, 40);
    await write(41, 8, true);
    const checkpointer = createCheckpointer({ store: stores.audit, hmacKey, sink: () => {}, everyMs: 0 });
    await checkpointer.checkpointNow();
    const checkpoints = checkpointer.latest();
    const a = archiver(() => checkpointer.newest());
    await a.runOnce();

    const head = await heads();
    expect(head.every((seq) => seq > 0)).toBe(true);
    expect(await archivedThrough()).toStrictEqual(head);
    expect(a.lag().map((l) => l.chain)).toStrictEqual([0, 1, 2, 3]);
    // Only the recent records (one per grant) are left in Redis, each chain its own floor.
    const oldest = await liveOldest();
    expect((await stores.audit.floor(0))?.seq).toBe((oldest[0] ?? head[0]! + 1) - 1);
    expect(await db.archive.checkpoints(1)).toStrictEqual([checkpoints[1]]);

    const tiered = tieredAuditStore(stores.audit, db.archive);
    const trail = await verifyTrail(tiered, hmacKey, { checkpoints, pageSize: 3 });
    expect(trail.ok).toBe(true);
    expect(trail.records).toBe(48);
    expect(trail.chains.map((r) => [r.chain, r.records, r.firstBroken])).toStrictEqual(head.map((seq, c) => [c, seq, undefined]));

    const alone = await verifyArchive(db.archive, hmacKey, CHAINS);
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
    await write(1, 24);
    await archiver().runOnce();
    const archived = await heads();
    await write(25, 16);
    // Trimmed straight from Redis (as by someone with Redis rights), never archived.
    await stores.audit.trimArchived(2, archived[2]! + 2, Date.now());
    const report = await verifyTrail(tieredAuditStore(stores.audit, db.archive), hmacKey);
    expect(report.ok).toBe(false);
    expect(report.chains.map((r) => r.firstBroken)).toStrictEqual([undefined, undefined, { seq: archived[2]! + 1, reason: 'seq_gap' }, undefined]);
  });
});
