/**
 * A vault with `audit.archive.postgres` on private Redis and PostgreSQL servers: migrations at
 * start, the archiver running from listen(), the admin audit API reading across the boundary, the
 * archive lag in the internal /readyz only, and the start-up refusals and warning.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditWriter } from '../../../src/audit/writer.js';
import { loadKeyMaterial } from '../../../src/crypto/key-files.js';
import { adminCall } from '../../helpers/admin-client.js';
import { archiveEvent } from '../../helpers/audit-archive.js';
import { call } from '../../helpers/https-client.js';
import { scrapeMetrics } from '../../helpers/metrics-scrape.js';
import { startPostgres, type PostgresHandle } from '../../helpers/postgres-server.js';
import { startRedis, type RedisHandle } from '../../helpers/redis-server.js';
import { createTestPki, startVault, type TestPki } from '../../helpers/vault.js';
import { connectRedisStores } from '../../../src/store/redis/index.js';
import pg from 'pg';

let server: PostgresHandle;
let redis: RedisHandle;
let pki: TestPki;

beforeAll(async () => {
  [server, redis, pki] = await Promise.all([startPostgres(), startRedis(), createTestPki()]);
});

afterAll(async () => {
  await Promise.all([server?.stop(), redis?.stop()]);
});

/** The database trusts loopback logins, so a password is accepted and ignored: it can be a canary. */
const CANARY = 'canary-pg-password-5d1e0c';
const withPassword = (url: string) => url.replace('@127.0.0.1', `:${CANARY}@127.0.0.1`);

async function secretFile(name: string, content: string): Promise<string> {
  const path = join(pki.dir, name);
  await writeFile(path, content, { mode: 0o600 });
  return path;
}

describe('vault with the PostgreSQL audit archive', () => {
  it('migrates at start, archives and trims old records, and answers queries, verify and export across the boundary', async () => {
    const db = await server.createDatabase('vault_a');
    // Two hours of history already in Redis, older than the one-minute window.
    const seeded = await connectRedisStores({ url: redis.url, keyPrefix: 'va:', auditChains: 1 });
    const writer = createAuditWriter({ store: seeded.audit, hmacKey: (await loadKeyMaterial(pki.dir)).auditHmacKey, now: () => Date.now() - 7_200_000 });
    for (let i = 1; i <= 40; i++) await writer.record(archiveEvent(i));
    await seeded.close();

    const vault = await startVault({
      pki,
      redisUrl: redis.url,
      overrides: {
        store: { kind: 'redis', redis: { url: redis.url, keyPrefix: 'va:' } },
        audit: {
          chains: 1,
          retention: { windowSeconds: 60 },
          archive: {
            postgres: {
              connectionFile: await secretFile('pg-runtime', withPassword(db.runtimeUrl)),
              migrationConnectionFile: await secretFile('pg-owner', withPassword(db.ownerUrl)),
              intervalMs: 50,
              batchSize: 7,
            },
          },
        },
      },
    });
    const su = new pg.Client({ connectionString: db.superuserUrl });
    su.on('error', () => {});
    await su.connect();
    try {
      const archived = async () => (await su.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_records')).rows[0]?.n;
      await expect.poll(archived, { timeout: 15_000 }).toBe(40);
      await expect.poll(() => vault.runtime.archive?.archiver.lag()[0]?.archivedThrough, { timeout: 15_000 }).toBe(40);

      const ready = await call(`${vault.internalUrl}/readyz`, { ca: pki.ca, client: pki.gateway });
      expect(ready.json()).toStrictEqual({
        status: 'ok',
        checks: { store: 'ok', keys: 'ok' },
        archive: { chains: [{ chain: 0, archivedThrough: 40, lagSeconds: 0 }] },
      });
      expect((await call(`${vault.publicUrl}/readyz`, { ca: pki.ca })).json()).toStrictEqual({ status: 'ok', checks: { store: 'ok', keys: 'ok' } });

      // Every seeded record is archived and gone from Redis; queries page across the boundary.
      const live = await connectRedisStores({ url: redis.url, keyPrefix: 'va:', auditChains: 1 });
      expect(await live.audit.range(0, 1, 1)).toStrictEqual([]);
      await live.close();
      const seqs: number[] = [];
      let next: string | undefined;
      do {
        const page = await adminCall(vault, `/admin/audit?limit=9${next === undefined ? '' : `&cursor=${next}`}`);
        expect(page.status).toBe(200);
        const body = page.json<{ items: { seq: number }[]; next?: string }>();
        seqs.push(...body.items.map((r) => r.seq));
        next = body.next;
      } while (next !== undefined);
      expect(seqs).toStrictEqual(Array.from({ length: 40 }, (_, i) => 40 - i));

      const verify = await adminCall(vault, '/admin/audit/verify');
      expect(verify.json()).toMatchObject({ ok: true, records: 40 });
      const exported = (await adminCall(vault, '/admin/audit/export')).text.trim().split('\n');
      expect(exported.map((line) => (JSON.parse(line) as { seq: number }).seq)).toStrictEqual(Array.from({ length: exported.length }, (_, i) => i + 1));
      expect(exported.length).toBeGreaterThanOrEqual(41);
      expect(vault.logs.text()).not.toContain('Redis holds the only copy');

      // PostgreSQL restarting under the archiver: logged by error type, the archive goes on, no connection string anywhere.
      await server.restart();
      await adminCall(vault, '/admin/audit/verify');
      await expect.poll(() => vault.runtime.archive?.archiver.lag()[0]?.archivedThrough, { timeout: 15_000 }).toBeGreaterThan(40);
      const metrics = await scrapeMetrics(vault.metricsUrl);
      expect(metrics.text).toMatch(/^tv_audit_archive_lag_seconds\{chain="0"\} /m);
      for (const text of [vault.logs.text(), metrics.text, verify.text, ready.text]) expect(text).not.toContain(CANARY);
    } finally {
      await su.end();
      await vault.close();
    }
  });

  it('refuses to start on a schema with a migration pending when no owner credentials are given', async () => {
    const db = await server.createDatabase('vault_b');
    await expect(
      startVault({
        pki,
        redisUrl: redis.url,
        overrides: {
          store: { kind: 'redis', redis: { url: redis.url, keyPrefix: 'vb:' } },
          audit: { archive: { postgres: { connectionFile: await secretFile('pg-b', db.runtimeUrl) } } },
        },
      }),
    ).rejects.toMatchObject({
      problems: ["audit.archive.postgres: schema migrations pending (001_audit_records): set migrationConnectionFile (the schema owner's)"],
    });
  });

  it('warns at start that Redis is the only copy when no archive is configured, and trims nothing', async () => {
    const vault = await startVault({ pki, redisUrl: redis.url, overrides: { store: { kind: 'redis', redis: { url: redis.url, keyPrefix: 'vc:' } } } });
    try {
      const warning = vault.logs.entries().find((e) => e['component'] === 'audit-archive');
      expect(warning).toMatchObject({
        level: 40,
        msg: 'audit.archive.postgres is not set: Redis holds the only copy of the audit trail, and nothing is trimmed from it',
      });
      expect(vault.runtime.archive).toBeUndefined();
    } finally {
      await vault.close();
    }
  });
});
