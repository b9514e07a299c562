/**
 * The PostgreSQL audit archive against private redis-server and PostgreSQL instances.
 *
 * 1. Append rate: C concurrent callers record through one audit writer for APPEND_SECONDS (the
 *    rate the archive has to keep up with, on this machine).
 * 2. Archive rate: the N records just written, copied into PostgreSQL by one archiver (batch
 *    BATCH), records/s from first to last insert.
 * 3. Soak (SOAK_SECONDS > 0): R writers at full rate for SOAK_SECONDS on SOAK_CHAINS chains (default
 *    16; each record names one of GRANTS grants, default 1,000, so records spread over the chains) while R
 *    archivers run with a WINDOW-second retention; every 30 s: Redis used_memory, stream length,
 *    head seq and archived seq (summed over the chains), lag. At the end: PostgreSQL holds every
 *    record (rows = distinct (chain, seq) = sum of head seqs), and the trail and the archive alone
 *    verify, every chain.
 *
 * `npx tsx bench/audit-archive.ts`; soak: `SOAK_SECONDS=600 WINDOW=30 SOAK_CHAINS=16 npx tsx bench/audit-archive.ts`.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createArchiver } from '../src/audit/archive/archiver.js';
import { auditStoreSource } from '../src/audit/archive/source.js';
import { tieredAuditStore } from '../src/audit/archive/tiered-store.js';
import { verifyArchive } from '../src/audit/archive/verify-archive.js';
import { verifyTrail } from '../src/audit/verify.js';
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
const SOAK_CHAINS = Number(process.env.SOAK_CHAINS ?? 16);
/** Grants the records name; each grant's index in Redis keeps its newest AUDIT_GRANT_INDEX_CAP seqs, trimmed or not. */
const GRANTS = Number(process.env.GRANTS ?? 1000);

const hmacKey = randomBytes(32);
const [pgServer, redis] = await Promise.all([startPostgres(), startRedis()]);
const raw = new Redis(redis.url);
const event = (n: number) => ({
  action: 'token.exchange' as const,
  decision: 'allow' as const,
  requestId: `r-${n}`,
  grant: `g-${n % GRANTS}`,
  gateway: 'spiffe://bench/gw',
  agent: 'spiffe://bench/agent',
});

/** Callers' failures by error name, over the whole run (a give-up is an AuditContentionError). */
const failures: Record<string, number> = {};

/** C callers on `writer` until `until` (performance.now() ms); returns records written. */
async function appendUntil(writer: ReturnType<typeof createAuditWriter>, until: number, start: number): Promise<number> {
  let n = start;
  let ok = 0;
  await Promise.all(
    Array.from({ length: CONC }, async () => {
      while (performance.now() < until) {
        await writer.record(event(n++)).then(
          () => ok++,
          (err: Error) => (failures[err.name] = (failures[err.name] ?? 0) + 1),
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
    const replicas = await Promise.all(
      Array.from({ length: REPLICAS }, () => connectRedisStores({ url: redis.url, keyPrefix: 'b2:', auditChains: SOAK_CHAINS })),
    );
    const chainIds = Array.from({ length: SOAK_CHAINS }, (_, i) => i);
    const total = async (each: (chain: number) => Promise<number>) => (await Promise.all(chainIds.map(each))).reduce((a, b) => a + b, 0);
    const headSeqs = () => total(async (i) => (await replicas[0]!.audit.head(i))?.seq ?? 0);
    const archivedSeqs = () => total((i) => db.archive.archivedThrough(i));
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
    console.log(`\nsoak: ${REPLICAS} writers × ${CONC} callers for ${SOAK_SECONDS} s on ${SOAK_CHAINS} chains, ${REPLICAS} archivers, retention ${WINDOW} s`);
    console.log(
      '| t (s) | Redis used_memory (MB) | stream length | head seqs | archived seqs | lag (s) | load average (1 min) |\n|---|---|---|---|---|---|---|',
    );
    const sampler = (async () => {
      while (performance.now() < until) {
        await sleep(30_000);
        const lag = archivers.flatMap((a) => a.lag().map((l) => l.lagSeconds)).reduce((x, y) => Math.max(x, y), 0);
        const row = [
          Math.round((performance.now() - t0) / 1000),
          ((await memory()) / 1e6).toFixed(1),
          await total((i) => raw.xlen(`b2:{audit:${i}}:log`)),
          await headSeqs(),
          await archivedSeqs(),
          lag.toFixed(1),
          loadavg()[0]!.toFixed(1),
        ];
        console.log(`| ${row.join(' | ')} |`);
      }
    })();
    const written = (await Promise.all(writers.map((w, i) => appendUntil(w, until, i * 1e9)))).reduce((a, b) => a + b, 0);
    await sampler;
    const heads = await headSeqs();
    while ((await archivedSeqs()) < heads) await sleep(200);
    await Promise.all(archivers.map((a) => a.stop()));
    const { rows } = await db.attacker.query<{ rows: string; seqs: string }>(
      'SELECT count(*)::text AS rows, count(DISTINCT (chain, seq))::text AS seqs FROM audit_records',
    );
    console.log(
      `written ${written} (${(written / SOAK_SECONDS).toFixed(0)} records/s), failed ${JSON.stringify(failures)}; head seqs ${heads}; archive rows ${rows[0]?.rows}, distinct (chain, seq) ${rows[0]?.seqs}; Redis used_memory ${((await memory()) / 1e6).toFixed(1)} MB, stream length ${await total((i) => raw.xlen(`b2:{audit:${i}}:log`))}`,
    );
    const t1 = performance.now();
    const trail = await verifyTrail(tieredAuditStore(replicas[0]!.audit, db.archive), hmacKey);
    const alone = await verifyArchive(db.archive, hmacKey, SOAK_CHAINS);
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
