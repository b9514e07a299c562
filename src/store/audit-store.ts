/**
 * The hash-chained audit trail's storage (chain fields are computed by audit/).
 *
 * The trail is N independent chains (`AuditStore.chains`), each with its own
 * gap-free seq, head and append turn, so writers contend only when they write
 * the same chain and, on Redis Cluster, the chains spread over slots. A record
 * goes to the chain `auditChainOf` picks from a stable key of the record (its
 * grant, else its user, actor or action), so one grant's history stays in one
 * chain, in order.
 */
import { StoreUnavailableError } from './errors.js';

/** One stored audit entry: its place in its chain plus the serialized event body. */
export interface AuditEntry {
  /** The chain it belongs to, 0 ≤ chain < AuditStore.chains (also inside `body`, so under the MAC). */
  chain: number;
  /** 1-based, gap-free within its chain. */
  seq: number;
  /** Hash of the previous entry of the same chain ('' for the first). */
  prev: string;
  /** Hash of this entry (HMAC over prev, seq and body, computed by audit/). */
  hash: string;
  /**
   * ISO 8601 UTC time of the record (`toISOString()`, so it sorts as text), equal to the body's
   * `time`: stored beside the body so readers merge chains and retention trims without parsing it.
   */
  time: string;
  /** JSON of the audit event (canonical, see audit/chain.ts). */
  body: string;
  /**
   * On append only, never stored or read back: the `grant` the body names, from the writer that
   * encoded the body (audit/chain.ts), so the per-grant index does not parse a body the vault has
   * just built. Absent: the store reads it from the body.
   */
  grant?: string;
}

export interface AuditHead {
  seq: number;
  hash: string;
}

/** `turnHeld`: refused because another writer holds the chain's append turn (see AuditStore.takeTurn). */
export type AppendResult = { ok: true } | { ok: false; head: AuditHead | null; turnHeld?: boolean };

export interface AuditStore {
  /** How many chains this store writes and reads (config `audit.chains`). */
  readonly chains: number;
  head(chain: number): Promise<AuditHead | null>;
  /** Every chain's head, index = chain (one round trip on Redis). */
  heads(): Promise<Array<AuditHead | null>>;
  /**
   * Append a batch to `chain` iff its head still equals `expectedHead` (null = empty chain).
   * Atomic: all entries or none. On mismatch returns the current head so the writer can re-chain.
   * Throws AuditChainCountError when the chain was written under another chain count.
   */
  append(chain: number, expectedHead: AuditHead | null, entries: AuditEntry[], turn?: string): Promise<AppendResult>;
  /**
   * Fairness between replicas, per chain: take the chain's exclusive append turn for `ttlMs`, or
   * null when another writer holds it. While a turn is held, append to that chain refuses every
   * writer but the holder (passing `turn`), whose successful append releases it.
   */
  takeTurn?(chain: number, ttlMs: number): Promise<string | null>;
  /** Entries of `chain` with seq >= fromSeq, ascending, at most `count`. */
  range(chain: number, fromSeq: number, count: number): Promise<AuditEntry[]>;
  /** Entries of `chain` with seq <= toSeq, newest first, at most `count`. */
  reverseRange(chain: number, toSeq: number, count: number): Promise<AuditEntry[]>;
  /**
   * The newest entries whose record names `grantId` in its top-level `grant` field, newest
   * first, at most `count` (the consent pages' per-connection history). Served from a
   * per-grant index kept in the grant's chain (auditChainOf) by the same atomic append, capped
   * at AUDIT_GRANT_INDEX_CAP entries per grant: O(count) however long the trail is.
   */
  latestForGrant(grantId: string, count: number): Promise<AuditEntry[]>;
  /**
   * Retention: drop the oldest entries of `chain` up to and including seq `uptoSeq`, but only
   * those older than `olderThan` (epoch ms); stops at the first younger entry. The archiver calls
   * it once entries are safely archived. Returns how many entries were dropped. The last dropped
   * entry becomes the chain's floor (see `floor`), so the rest still verifies.
   */
  trimArchived(chain: number, uptoSeq: number, olderThan: number): Promise<number>;
  /** The newest entry trimmed from `chain` (seq and hash), null when nothing was trimmed. */
  floor(chain: number): Promise<AuditHead | null>;
  /**
   * Records this store's chain count as the trail's if none is recorded yet, and returns the
   * recorded one: a vault configured with another count must not start (changing the count
   * would move grants to other chains and break their per-grant order and index).
   */
  claimChainCount(): Promise<number>;
}

/** Entries kept per grant in the audit store's grant index (older ones stay in the chain, unindexed). */
export const AUDIT_GRANT_INDEX_CAP = 200;

/** Default and bounds of `audit.chains`. */
export const AUDIT_CHAINS_DEFAULT = 16;
export const AUDIT_CHAINS_MAX = 1024;

/** The fields of a record that pick its chain. */
export interface AuditRouting {
  action: string;
  grant?: string | undefined;
  user?: string | undefined;
  actor?: string | undefined;
}

/**
 * The chain a record goes to: a stable hash (32-bit FNV-1a) of its grant, else its user, else
 * its actor, else its action, modulo `chains`. Stable across processes and restarts, so every
 * record of one grant is in one chain (and its per-grant index there), in order.
 */
export function auditChainOf(record: AuditRouting, chains: number): number {
  if (chains <= 1) return 0;
  const key =
    record.grant !== undefined && record.grant !== ''
      ? `g:${record.grant}`
      : record.user !== undefined && record.user !== ''
        ? `u:${record.user}`
        : record.actor !== undefined && record.actor !== ''
          ? `a:${record.actor}`
          : `k:${record.action}`;
  return fnv1a(key) % chains;
}

/** The chain of a grant's records (where its per-grant index lives). */
export function auditChainOfGrant(grantId: string, chains: number): number {
  return auditChainOf({ action: '', grant: grantId }, chains);
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The trail in the store was written under another chain count: nothing is appended (503, fail closed). */
export class AuditChainCountError extends StoreUnavailableError {
  override name = 'AuditChainCountError';
}
