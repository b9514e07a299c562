/**
 * Schema migrations of the audit archive: plain SQL files (`migrations/NNN_name.sql`, applied in
 * name order), each once, recorded in `schema_migrations`. All of them run in one transaction under
 * an advisory lock, so replicas starting together apply them once and a failed migration leaves
 * nothing behind. They run with the owner's credentials
 * (`audit.archive.postgres.migrationConnectionFile`); the runtime role only reads and appends.
 */
import { readdir, readFile } from 'node:fs/promises';
import type pg from 'pg';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);
/** pg_advisory_xact_lock key of the migration step (an arbitrary constant of this repository). */
const MIGRATION_LOCK = 0x74766175;

/** The runtime role may append and read, never change or remove (UPDATE, DELETE, TRUNCATE). */
const RUNTIME_GRANTS = [
  'GRANT SELECT, INSERT ON audit_records, audit_checkpoints TO %ROLE%',
  'GRANT SELECT ON schema_migrations TO %ROLE%',
  'GRANT EXECUTE ON FUNCTION audit_ensure_partition(date) TO %ROLE%',
];

export interface Migration {
  version: string;
  sql: string;
}

/** The migrations shipped with this build, in the order they apply. */
export async function shippedMigrations(): Promise<Migration[]> {
  const names = (await readdir(MIGRATIONS_DIR)).filter((n) => /^\d{3}_[a-z0-9_]+\.sql$/.test(n)).sort();
  return Promise.all(names.map(async (name) => ({ version: name.slice(0, -4), sql: await readFile(new URL(name, MIGRATIONS_DIR), 'utf8') })));
}

/**
 * Applies the migrations not yet applied and grants `runtimeRole` its rights; returns the versions
 * it applied. `client` connects as the schema's owner.
 */
export async function migrateArchive(client: pg.ClientBase, runtimeRole: string): Promise<string[]> {
  const migrations = await shippedMigrations();
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const { rows } = await client.query<{ version: string }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [m.version]);
      applied.push(m.version);
    }
    const role = client.escapeIdentifier(runtimeRole);
    for (const grant of RUNTIME_GRANTS) await client.query(grant.replace('%ROLE%', role));
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** Versions shipped but not applied (what the runtime refuses to start without). */
export async function pendingMigrations(client: pg.ClientBase | pg.Pool): Promise<string[]> {
  const migrations = await shippedMigrations();
  const { rows: present } = await client.query<{ ok: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS ok");
  const applied = new Set<string>();
  if (present[0]?.ok === true) {
    const { rows } = await client.query<{ version: string }>('SELECT version FROM schema_migrations');
    for (const r of rows) applied.add(r.version);
  }
  return migrations.map((m) => m.version).filter((v) => !applied.has(v));
}
