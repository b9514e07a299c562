/**
 * A migrated audit archive database on a private PostgreSQL, with the three roles the tests need:
 * the owner (migrations), the vault's runtime role (SELECT, INSERT) and a superuser (the attacker);
 * and archiveFixture(), the per-test database and Redis stores of the archive tests.
 */
import pg from 'pg';
import { migrateArchive } from '../../src/audit/archive/migrate.js';
import { createArchivePool, PgAuditArchive } from '../../src/audit/archive/pg-archive.js';
import type { AuditEventInput } from '../../src/audit/events.js';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { connectRedisStores } from '../../src/store/redis/index.js';
import type { Stores } from '../../src/store/stores.js';
import { startPostgres, type PostgresHandle } from './postgres-server.js';
import { startRedis, type RedisHandle } from './redis-server.js';

export interface ArchiveDb {
  name: string;
  urls: { owner: string; runtime: string; superuser: string };
  /** The archive as the vault sees it (runtime role). */
  archive: PgAuditArchive;
  /** Superuser connections to the same database (a pool: it reconnects after a restart of PostgreSQL). */
  attacker: pg.Pool;
  close(): Promise<void>;
}

let counter = 0;

export async function archiveDb(server: PostgresHandle): Promise<ArchiveDb> {
  const name = `audit_${process.pid}_${++counter}`;
  const db = await server.createDatabase(name);
  const owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
  try {
    await migrateArchive(owner, db.runtimeRole);
  } finally {
    await owner.end();
  }
  const pool = createArchivePool({ connectionString: db.runtimeUrl, poolSize: 4 });
  const attacker = new pg.Pool({ connectionString: db.superuserUrl, max: 2 });
  attacker.on('error', () => {});
  return {
    name,
    urls: { owner: db.ownerUrl, runtime: db.runtimeUrl, superuser: db.superuserUrl },
    archive: new PgAuditArchive(pool),
    attacker,
    async close() {
      await attacker.end().catch(() => {});
      await pool.end().catch(() => {});
    },
  };
}

/** A plain audit event; `grant` names a grant when given. */
export const archiveEvent = (n: number, grant?: string): AuditEventInput => ({
  action: 'token.exchange',
  decision: 'allow',
  requestId: `req-${n}`,
  gateway: 'spiffe://corp.example/gateway',
  ...(grant !== undefined && { grant }),
});

/** What archiveFixture() gives a test: read its fields inside hooks and tests, never at import. */
export interface ArchiveFixture {
  readonly server: PostgresHandle;
  readonly redis: RedisHandle;
  /** A fresh migrated archive database per test. */
  readonly db: ArchiveDb;
  /** One-chain Redis stores under a fresh key prefix per test. */
  readonly stores: Stores;
  /** Another fresh key prefix on the same Redis (`<letter><n>:`). */
  nextPrefix(letter: string): string;
}

/**
 * A private PostgreSQL and Redis for the test file, and per test a fresh archive database and
 * Redis stores (closed after it). Registers its hooks where it is called: call it at the top of
 * the file, before the file's own `beforeEach`, which then sees them ready.
 */
export function archiveFixture(letter: string): ArchiveFixture {
  let server: PostgresHandle | undefined;
  let redis: RedisHandle | undefined;
  let db: ArchiveDb | undefined;
  let stores: Stores | undefined;
  let prefixes = 0;
  const nextPrefix = (l: string) => `${l}${++prefixes}:`;
  beforeAll(async () => {
    [server, redis] = await Promise.all([startPostgres(), startRedis()]);
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), redis?.stop()]);
  });
  beforeEach(async () => {
    db = await archiveDb(server!);
    stores = await connectRedisStores({ url: redis!.url, keyPrefix: nextPrefix(letter), auditChains: 1 });
  });
  afterEach(async () => {
    await db?.close();
    await stores?.close();
  });
  return {
    get server() {
      return server!;
    },
    get redis() {
      return redis!;
    },
    get db() {
      return db!;
    },
    get stores() {
      return stores!;
    },
    nextPrefix,
  };
}
