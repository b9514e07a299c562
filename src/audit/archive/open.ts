/**
 * Opens the archive at start: the runtime pool, migrations when owner credentials are given, and a
 * refusal to run on a schema with a migration pending. Failures are ArchiveOpenError with a static
 * message: a connection string carries a password and never reaches a message or a log.
 */
import pg from 'pg';
import { migrateArchive, pendingMigrations } from './migrate.js';
import { createArchivePool, PgAuditArchive } from './pg-archive.js';

export class ArchiveOpenError extends Error {
  override name = 'ArchiveOpenError';
  readonly code = 'TV_AUDIT_ARCHIVE_UNAVAILABLE';
}

export interface OpenArchiveOptions {
  /** The runtime role's connection string (SELECT, INSERT). */
  connectionString: string;
  /** The schema owner's: migrations are applied with it. */
  migrationConnectionString?: string | undefined;
  poolSize: number;
  ca?: string | undefined;
  onIdleError?: (err: Error) => void;
}

/** The login role a connection string names (the role migrations grant the runtime rights to). */
export function connectionRole(connectionString: string): string {
  try {
    const user = decodeURIComponent(new URL(connectionString).username);
    if (user !== '') return user;
  } catch {
    // Not a URL: a key=value string is not supported, reported below.
  }
  throw new ArchiveOpenError('the connection string names no user (postgres://user:password@host/database)');
}

export async function openArchive(opts: OpenArchiveOptions): Promise<PgAuditArchive> {
  const role = connectionRole(opts.connectionString);
  const ssl = opts.ca === undefined ? {} : { ssl: { ca: opts.ca, rejectUnauthorized: true } };
  if (opts.migrationConnectionString !== undefined) {
    const owner = new pg.Client({ connectionString: opts.migrationConnectionString, connectionTimeoutMillis: 5_000, ...ssl });
    try {
      await owner.connect();
      await migrateArchive(owner, role);
    } catch {
      throw new ArchiveOpenError('migrations could not be applied with migrationConnectionFile');
    } finally {
      await owner.end().catch(() => {});
    }
  }
  const pool = createArchivePool({
    connectionString: opts.connectionString,
    poolSize: opts.poolSize,
    connectTimeoutMs: 5_000,
    ...(opts.ca !== undefined && { ca: opts.ca }),
    ...(opts.onIdleError !== undefined && { onIdleError: opts.onIdleError }),
  });
  let pending: string[];
  try {
    pending = await pendingMigrations(pool);
  } catch {
    await pool.end().catch(() => {});
    throw new ArchiveOpenError('PostgreSQL did not answer');
  }
  if (pending.length > 0) {
    await pool.end().catch(() => {});
    throw new ArchiveOpenError(`schema migrations pending (${pending.join(', ')}): set migrationConnectionFile (the schema owner's)`);
  }
  return new PgAuditArchive(pool);
}
