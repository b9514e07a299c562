/**
 * A migrated audit archive database on a private PostgreSQL, with the three roles the tests need:
 * the owner (migrations), the vault's runtime role (SELECT, INSERT) and a superuser (the attacker).
 */
import pg from 'pg';
import { migrateArchive } from '../../src/audit/archive/migrate.js';
import { createArchivePool, PgAuditArchive } from '../../src/audit/archive/pg-archive.js';
import type { AuditEventInput } from '../../src/audit/events.js';
import type { PostgresHandle } from './postgres-server.js';

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
