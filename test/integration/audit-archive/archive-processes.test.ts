/**
 * Three archiver processes on one chain while records keep coming, with Redis restarted, PostgreSQL
 * restarted and one archiver SIGKILLed (and replaced) in the middle, and retention trimming as soon
 * as records are archived: every record ends up in the archive exactly once, none is lost, and the
 * trail verifies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tieredAuditStore } from '../../../src/audit/archive/tiered-store.js';
import { verifyArchive } from '../../../src/audit/archive/verify-archive.js';
import { verifyChain } from '../../../src/audit/verify.js';
import { createAuditWriter } from '../../../src/audit/writer.js';
import { connectRedisStores } from '../../../src/store/redis/index.js';
import type { Stores } from '../../../src/store/stores.js';
import { archiveDb, archiveEvent, type ArchiveDb } from '../../helpers/audit-archive.js';
import { startPostgres, type PostgresHandle } from '../../helpers/postgres-server.js';
import { startRedis, type RedisHandle } from '../../helpers/redis-server.js';

const hmacKey = randomBytes(32);
let server: PostgresHandle;
let redis: RedisHandle;
let db: ArchiveDb;
let stores: Stores;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  [server, redis] = await Promise.all([startPostgres(), startRedis()]);
  db = await archiveDb(server);
  stores = await connectRedisStores({ url: redis.url, keyPrefix: 'p:', auditChains: 1 });
});

afterAll(async () => {
  await Promise.all([...children].map((c) => stop(c, 'SIGKILL')));
  await db?.close();
  await stores?.close();
  await Promise.all([server?.stop(), redis?.stop()]);
});

async function archiverProcess(): Promise<ChildProcess> {
  const script = new URL('../../helpers/archiver-process.ts', import.meta.url).pathname;
  const options = { redisUrl: redis.url, keyPrefix: 'p:', pgUrl: db.urls.runtime, batchSize: 50, intervalMs: 20, leaseMs: 1500, retentionMs: 0 };
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', () => resolve());
    child.once('exit', (code) => reject(new Error(`archiver exited with ${code}`)));
  });
  return child;
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await exited;
}

describe('archiver across three processes', () => {
  it('archives every record exactly once through Redis and PostgreSQL restarts and a killed archiver', async () => {
    const archivers = await Promise.all([archiverProcess(), archiverProcess(), archiverProcess()]);
    const writer = createAuditWriter({ store: stores.audit, hmacKey });
    const confirmed: string[] = [];
    const disruptions: Record<number, () => Promise<void>> = {
      40: () => redis.restart(),
      80: () => server.restart(),
      120: async () => {
        await stop(archivers[0]!, 'SIGKILL');
        archivers[0] = await archiverProcess();
      },
    };
    for (let round = 1; round <= 160; round++) {
      const batch = Array.from({ length: 10 }, (_, i) => writer.record(archiveEvent(round * 100 + i)));
      for (const outcome of await Promise.allSettled(batch)) if (outcome.status === 'fulfilled') confirmed.push(outcome.value.requestId!);
      await disruptions[round]?.();
      await sleep(10);
    }
    const head = (await stores.audit.head(0))!;
    expect(confirmed.length).toBeGreaterThan(1400);

    const archivedThrough = async () => (await db.attacker.query<{ n: string }>('SELECT coalesce(max(seq), 0)::text AS n FROM audit_records')).rows[0]?.n;
    await expect.poll(archivedThrough, { timeout: 60_000, interval: 200 }).toBe(String(head.seq));
    await Promise.all(archivers.map((c) => stop(c, 'SIGTERM')));

    const { rows } = await db.attacker.query<{ rows: number; seqs: number; min: string; max: string }>(
      'SELECT count(*)::int AS rows, count(DISTINCT seq)::int AS seqs, min(seq)::text AS min, max(seq)::text AS max FROM audit_records',
    );
    expect(rows).toStrictEqual([{ rows: head.seq, seqs: head.seq, min: '1', max: String(head.seq) }]);
    const ids = await db.attacker.query<{ id: string }>("SELECT body::jsonb ->> 'requestId' AS id FROM audit_records");
    const archivedIds = new Set(ids.rows.map((r) => r.id));
    expect(confirmed.filter((id) => !archivedIds.has(id))).toStrictEqual([]);
    // Retention 0: Redis keeps nothing the archive holds.
    expect(await stores.audit.range(0, 1, 1)).toStrictEqual([]);
    expect(await verifyChain(tieredAuditStore(stores.audit, db.archive), hmacKey)).toStrictEqual({ chain: 0, ok: true, records: head.seq, head });
    expect(await verifyArchive(db.archive, hmacKey, 1)).toStrictEqual({
      ok: true,
      records: head.seq,
      chains: [{ chain: 0, ok: true, records: head.seq, head, forgedCheckpoints: 0 }],
    });
  }, 180_000);
});
