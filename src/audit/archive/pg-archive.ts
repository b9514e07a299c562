/**
 * The PostgreSQL audit archive (schema: migrations/001_audit_records.sql): append and read, never
 * change. Every statement here needs only SELECT, INSERT and the partition function, which is all
 * the runtime role is granted (migrate.ts).
 */
import pg from 'pg';
import type { AuditEntry } from '../../store/audit-store.js';
import type { AuditCheckpoint } from '../checkpoint.js';
import type { ArchiveEntry } from './source.js';

export interface ArchivePoolOptions {
  connectionString: string;
  poolSize: number;
  /** PEM of the CA that signs the server's certificate: TLS with verification; absent = no TLS. */
  ca?: string;
  /** Fail fast when PostgreSQL is unreachable (ms). */
  connectTimeoutMs?: number;
  /** Told of errors of idle pooled connections (a restart of PostgreSQL), which would otherwise crash the process. */
  onIdleError?: (err: Error) => void;
}

export function createArchivePool(opts: ArchivePoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.poolSize,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 2_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: 30_000,
    ...(opts.ca !== undefined && { ssl: { ca: opts.ca, rejectUnauthorized: true } }),
  });
  pool.on('error', opts.onIdleError ?? (() => {}));
  return pool;
}

type Row = { chain: number; seq_text: string; time_text: string; prev: string; hash: string; body: string };
const toEntry = (r: Row): AuditEntry => ({ chain: r.chain, seq: Number(r.seq_text), prev: r.prev, hash: r.hash, time: r.time_text, body: r.body });
// bigint as text (beyond 2^53 it would not be a safe number); aliased apart from `seq`, which ORDER BY must sort as a number.
// `time` as `toISOString()` writes it, so verify compares it with the body's (src/audit/verify.ts).
const COLUMNS = `chain, seq::text AS seq_text, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS time_text, prev, hash, body`;

/** First day (UTC) of the month of `time`, as `YYYY-MM-01`. */
export function monthOf(time: string | number): string {
  const d = new Date(time);
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-01`;
}

export class PgAuditArchive {
  /** Months whose partition this process has made sure of. */
  readonly #partitions = new Set<string>();

  constructor(readonly pool: pg.Pool) {}

  /** The highest archived seq of `chain` (0 when none): where the next copy starts. */
  async archivedThrough(chain: number): Promise<number> {
    const { rows } = await this.pool.query<{ seq: string | null }>('SELECT max(seq)::text AS seq FROM audit_records WHERE chain = $1', [chain]);
    return Number(rows[0]?.seq ?? 0);
  }

  /** Creates the monthly partitions of these months when missing (once per process and month). */
  async ensurePartitions(months: Iterable<string>): Promise<void> {
    for (const month of months) {
      if (this.#partitions.has(month)) continue;
      await this.pool.query('SELECT audit_ensure_partition($1::date)', [month]);
      this.#partitions.add(month);
    }
  }

  /**
   * Inserts entries in one statement; an entry already archived is skipped (same chain, seq and
   * time: at-least-once delivery stays exactly once). Returns how many rows were new.
   */
  async insert(entries: readonly ArchiveEntry[]): Promise<number> {
    if (entries.length === 0) return 0;
    await this.ensurePartitions(new Set(entries.map((e) => monthOf(e.time))));
    const result = await this.pool.query(
      `INSERT INTO audit_records (chain, seq, time, prev, hash, body)
       SELECT * FROM unnest($1::int[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[], $6::text[])
       ON CONFLICT DO NOTHING`,
      [
        entries.map((e) => e.chain),
        entries.map((e) => String(e.seq)),
        entries.map((e) => e.time),
        entries.map((e) => e.prev),
        entries.map((e) => e.hash),
        entries.map((e) => e.body),
      ],
    );
    return result.rowCount ?? 0;
  }

  /** Entries of `chain` with fromSeq <= seq < belowSeq, ascending, at most `count`. */
  async range(chain: number, fromSeq: number, count: number, belowSeq = Number.MAX_SAFE_INTEGER): Promise<AuditEntry[]> {
    if (count <= 0) return [];
    const { rows } = await this.pool.query<Row>(
      `SELECT ${COLUMNS} FROM audit_records WHERE chain = $1 AND seq >= $2 AND seq < $3 ORDER BY seq, time LIMIT $4`,
      [chain, fromSeq, belowSeq, count],
    );
    return rows.map(toEntry);
  }

  /** Entries of `chain` with seq <= toSeq, newest first, at most `count`. */
  async reverseRange(chain: number, toSeq: number, count: number): Promise<AuditEntry[]> {
    if (count <= 0 || toSeq < 1) return [];
    const { rows } = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM audit_records WHERE chain = $1 AND seq <= $2 ORDER BY seq DESC, time DESC LIMIT $3`, [
      chain,
      toSeq,
      count,
    ]);
    return rows.map(toEntry);
  }

  /**
   * Newest entries whose record names `grantId`, at most `count`, from the chains in `below`, each
   * only below its `seq` (where that chain's entries in Redis begin): newest first by time, and
   * within a chain by seq.
   */
  async latestForGrant(grantId: string, count: number, below: ReadonlyArray<{ chain: number; seq: number }>): Promise<AuditEntry[]> {
    if (count <= 0 || below.length === 0) return [];
    const { rows } = await this.pool.query<Row>(
      `SELECT ${COLUMNS} FROM audit_records JOIN unnest($2::int[], $3::bigint[]) AS b(b_chain, b_below) ON chain = b_chain AND seq < b_below
       WHERE grant_id = $1 ORDER BY time DESC, chain, seq DESC LIMIT $4`,
      [grantId, below.map((b) => b.chain), below.map((b) => String(Math.min(b.seq, Number.MAX_SAFE_INTEGER))), count],
    );
    return rows.map(toEntry);
  }

  /** Keeps a signed checkpoint of a head the archive holds (an anchor for verifying the archive alone). */
  async saveCheckpoint(chain: number, cp: AuditCheckpoint): Promise<void> {
    await this.pool.query('INSERT INTO audit_checkpoints (chain, seq, hash, time, mac) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING', [
      chain,
      cp.seq,
      cp.hash,
      cp.time,
      cp.mac,
    ]);
  }

  /** The stored checkpoints of `chain`, newest first (authenticated by the caller). */
  async checkpoints(chain: number, count = 100): Promise<unknown[]> {
    const { rows } = await this.pool.query<{ chain: number; seq_text: string; hash: string; time: string; mac: string }>(
      'SELECT chain, seq::text AS seq_text, hash, time, mac FROM audit_checkpoints WHERE chain = $1 ORDER BY seq DESC LIMIT $2',
      [chain, count],
    );
    return rows.map((r) => ({ chain: r.chain, seq: Number(r.seq_text), hash: r.hash, time: r.time, mac: r.mac }));
  }
}
