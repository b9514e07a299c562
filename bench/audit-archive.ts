/**
 * The PostgreSQL audit archive against private redis-server and PostgreSQL instances.
 *
 * 1. Append rate: C concurrent callers record through one audit writer for APPEND_SECONDS (the
 *    rate the archive has to keep up with, on this machine).
 * 2. Archive rate: the N records just written, copied into PostgreSQL by one archiver (batch
 *    BATCH), records/s from first to last insert.
 * 3. Soak (SOAK_SECONDS > 0): R writers at full rate for SOAK_SECONDS while 3 archivers run with a
 *    WINDOW-second retention; every 30 s: Redis used_memory, stream length, archived seq, lag. At the
 *    end: PostgreSQL holds every record (count = head seq, no duplicate), and the trail and the
 *    archive alone verify.
 *
 * `npx tsx bench/audit-archive.ts`; soak: `SOAK_SECONDS=600 WINDOW=30 npx tsx bench/audit-archive.ts`.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createArchiver } from '../src/audit/archive/archiver.js';
import { auditStoreSource } from '../src/audit/archive/source.js';
import { tieredAuditStore } from '../src/audit/archive/tiered-store.js';
import { verifyArchive } from '../src/audit/archive/verify-archive.js';
import { verifyChain } from '../src/audit/verify.js';
import { createAuditWriter } from '../src/audit/writer.js';
import { connectRedisStores } from '../src/store/redis/index.js';
import { archiveDb } from '../test/helpers/audit-archive.js';
import { startPostgres } from '../test/helpers/postgres-server.js';
import { startRedis } from '../test/helpers/redis-server.js';

const CONC = Number(process.env.C ?? 32);
const APPEND_SECONDS = Number(process.env.APPEND_SECONDS ?? 10);
const BATCH = Number(process.env.BATCH ?? 1000);
const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 0);
const WINDOW = Number(process.env.WINDOW ?? 30);
const REPLICAS = Number(process.env.R ?? 3);

const hmacKey = randomBytes(32);
const [pgServer, redis] = await Promise.all([startPostgres(), startRedis()]);
const raw = new Redis(redis.url);
const event = (n: number) => ({
  action: 'token.exchange' as const,
  decision: 'allow' as const,
  requestId: `r-${n}`,
  gateway: 'spiffe://bench/gw',
  agent: 'spiffe://bench/agent',
});

/** C callers on `writer` until `until` (performance.now() ms); returns records written. */
async function appendUntil(writer: ReturnType<typeof createAuditWriter>, until: number, start: number): Promise<number> {
  let n = start;
  let ok = 0;
  await Promise.all(
    Array.from({ length: CONC }, async () => {
      while (performance.now() < until) {
        await writer.record(event(n++)).then(
          () => ok++,
          () => {},
        );
      }
    }),
  );
  return ok;
}

try {
  // 1 + 2: append rate, then archive rate.
  {
    const db = await archiveDb(pgServer);
    const stores = await connectRedisStores({ url: redis.url, keyPrefix: 'b1:', auditChains: 1 });
    const writer = createAuditWriter({ store: stores.audit, hmacKey });
    const t0 = performance.now();
    const written = await appendUntil(writer, t0 + APPEND_SECONDS * 1000, 0);
    const appendRate = written / ((performance.now() - t0) / 1000);
    const archiver = createArchiver({
      source: auditStoreSource(stores.audit),
      archive: db.archive,
      locks: stores.locks,
      retentionMs: 86_400_000,
      lagWarnSeconds: 3600,
      batchSize: BATCH,
      leaseMs: 600_000,
    });
    const head = (await stores.audit.head(0))!.seq;
    const t1 = performance.now();
    while ((await db.archive.archivedThrough(0)) < head) await archiver.runOnce();
    const archiveRate = head / ((performance.now() - t1) / 1000);
    console.log(`append: ${written} records in ${APPEND_SECONDS} s with ${CONC} callers = ${appendRate.toFixed(0)} records/s`);
    console.log(
      `archive: ${head} records into PostgreSQL (batch ${BATCH}) = ${archiveRate.toFixed(0)} records/s (${(archiveRate / appendRate).toFixed(2)} × the append rate)`,
    );
    await stores.close();
    await db.close();
  }

  // 3: soak.
  if (SOAK_SECONDS > 0) {
    const db = await archiveDb(pgServer);
    const replicas = await Promise.all(Array.from({ length: REPLICAS }, () => connectRedisStores({ url: redis.url, keyPrefix: 'b2:', auditChains: 1 })));
    const writers = replicas.map((s) => createAuditWriter({ store: s.audit, hmacKey }));
    const archivers = replicas.map((s) =>
      createArchiver({
        source: auditStoreSource(s.audit),
        archive: db.archive,
        locks: s.locks,
        retentionMs: WINDOW * 1000,
        lagWarnSeconds: 3600,
        batchSize: BATCH,
      }),
    );
    for (const a of archivers) a.start();
    const memory = async () => Number(/used_memory:(\d+)/.exec(await raw.info('memory'))?.[1] ?? 0);
    const t0 = performance.now();
    const until = t0 + SOAK_SECONDS * 1000;
    console.log(`\nsoak: ${REPLICAS} writers × ${CONC} callers for ${SOAK_SECONDS} s, 3 archivers, retention ${WINDOW} s`);
    console.log('| t (s) | Redis used_memory (MB) | stream length | head seq | archived seq | lag (s) |\n|---|---|---|---|---|---|');
    const sampler = (async () => {
      while (performance.now() < until) {
        await sleep(30_000);
        const head = (await replicas[0]!.audit.head(0))?.seq ?? 0;
        const lag = archivers.map((a) => a.lag()[0]?.lagSeconds ?? 0).reduce((x, y) => Math.max(x, y), 0);
        const row = [
          Math.round((performance.now() - t0) / 1000),
          ((await memory()) / 1e6).toFixed(1),
          await raw.xlen('b2:{audit}:log'),
          head,
          await db.archive.archivedThrough(0),
          lag.toFixed(1),
        ];
        console.log(`| ${row.join(' | ')} |`);
      }
    })();
    const written = (await Promise.all(writers.map((w, i) => appendUntil(w, until, i * 1e9)))).reduce((a, b) => a + b, 0);
    await sampler;
    const head = (await replicas[0]!.audit.head(0))!;
    while ((await db.archive.archivedThrough(0)) < head.seq) await sleep(200);
    await Promise.all(archivers.map((a) => a.stop()));
    const { rows } = await db.attacker.query<{ rows: string; seqs: string }>(
      'SELECT count(*)::text AS rows, count(DISTINCT seq)::text AS seqs FROM audit_records',
    );
    console.log(
      `written ${written} (${(written / SOAK_SECONDS).toFixed(0)} records/s); head ${head.seq}; archive rows ${rows[0]?.rows}, distinct seqs ${rows[0]?.seqs}`,
    );
    const t1 = performance.now();
    const trail = await verifyChain(tieredAuditStore(replicas[0]!.audit, db.archive), hmacKey);
    const alone = await verifyArchive(db.archive, hmacKey, 1);
    console.log(
      `verify trail: ok=${trail.ok} records=${trail.records}; archive alone: ok=${alone.ok} records=${alone.records} (${((performance.now() - t1) / 1000).toFixed(1)} s)`,
    );
    await Promise.all(replicas.map((s) => s.close()));
    await db.close();
  }
} finally {
  raw.disconnect();
  await Promise.all([pgServer.stop(), redis.stop()]);
}
