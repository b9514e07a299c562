/** The hash-chained audit trail's storage (chain fields are computed by audit/). */
/** One stored audit entry: the chain fields plus the serialized event body. */
export interface AuditEntry {
  seq: number;
  /** Hash of the previous entry ('' for the first). */
  prev: string;
  /** Hash of this entry (HMAC over prev + body, computed by audit/). */
  hash: string;
  /** JSON of the audit event. */
  body: string;
}

export interface AuditHead {
  seq: number;
  hash: string;
}

/** `turnHeld`: refused because another writer holds the append turn (see AuditStore.takeTurn). */
export type AppendResult = { ok: true } | { ok: false; head: AuditHead | null; turnHeld?: boolean };

export interface AuditStore {
  head(): Promise<AuditHead | null>;
  /**
   * Append a batch iff the chain head still equals `expectedHead` (null = empty chain).
   * Atomic: all entries or none. On mismatch returns the current head so the writer can re-chain.
   */
  append(expectedHead: AuditHead | null, entries: AuditEntry[], turn?: string): Promise<AppendResult>;
  /**
   * Fairness between replicas: take the exclusive append turn for `ttlMs`, or null when another
   * writer holds it. While a turn is held, append refuses every writer but the holder (passing
   * `turn`), whose successful append releases it. A writer asks for the turn after losing a race,
   * so under contention appends go one replica at a time instead of colliding.
   */
  takeTurn?(ttlMs: number): Promise<string | null>;
  /** Entries with seq >= fromSeq, ascending, at most `count`. */
  range(fromSeq: number, count: number): Promise<AuditEntry[]>;
  /** Entries with seq <= toSeq, newest first, at most `count` (admin queries page backwards from the head). */
  reverseRange(toSeq: number, count: number): Promise<AuditEntry[]>;
  /**
   * The newest entries whose record names `grantId` in its top-level `grant` field, newest
   * first, at most `count` (the consent pages' per-connection history). Served from a
   * per-grant index that append maintains in the same atomic step and caps at
   * AUDIT_GRANT_INDEX_CAP entries per grant, so a read costs O(count) however long the trail
   * is, instead of a scan of the stream. Only entries appended since the index existed are in it.
   */
  latestForGrant(grantId: string, count: number): Promise<AuditEntry[]>;
  /**
   * Drops the entries with seq <= `seq` (retention, once the archive holds them: src/audit/archive/).
   * The head is kept, so appends go on; absent where nothing is ever trimmed (the in-memory store).
   */
  trimThrough?(seq: number): Promise<void>;
}

/** Entries kept per grant in the audit store's grant index (older ones stay in the chain, unindexed). */
export const AUDIT_GRANT_INDEX_CAP = 200;
