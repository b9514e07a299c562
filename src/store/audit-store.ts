/**
 * The hash-chained audit trail's storage (chain fields are computed by audit/).
 *
 * The trail is N independent chains (`AuditStore.chains`), each with its own
 * gap-free seq, head and append turn, so writers contend only when they write
 * the same chain and, on Redis Cluster, the chains spread over slots.
 *
 * Which chain a record goes to: each live writer has a home chain of its own
 * (src/audit/chain-owners.ts, from the writers it finds with `writers`) and
 * appends there, so writers do not contend and the records of one grant from
 * one writer stay in one chain, in order. A writer without a home uses
 * `auditChainOf` (a stable key of the record over all chains), where it may
 * meet others. A grant's records can therefore sit in several chains;
 * `latestForGrant` reads them all and orders them by time.
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

/**
 * `turnHeld`: refused because another writer holds the chain's append turn (see AuditStore.takeTurn);
 * `turnTaken`: refused for a stale head, and the turn is now the caller's (append's `claimMs`).
 */
export type AppendResult = { ok: true } | { ok: false; head: AuditHead | null; turnHeld?: boolean; turnTaken?: boolean };

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
   * With `turn` and `claimMs`, a refusal for a stale head (the turn free or already `turn`'s) also
   * makes `turn` the chain's append turn for `claimMs`, in the same atomic step (`turnTaken`):
   * the writer that lost the race needs no extra round trip to take it.
   */
  append(chain: number, expectedHead: AuditHead | null, entries: AuditEntry[], turn?: string, claimMs?: number): Promise<AppendResult>;
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
   * first (by time, see newestFirst), at most `count` (the consent pages' per-connection
   * history): the newest of every chain's `latestForGrantIn`.
   */
  latestForGrant(grantId: string, count: number): Promise<AuditEntry[]>;
  /**
   * The same within one chain, newest (highest seq) first. Served from a per-grant index that
   * the append writes in the same atomic step, in the chain's own slot, capped at
   * AUDIT_GRANT_INDEX_CAP entries per grant and chain: O(count) however long the chain is.
   */
  latestForGrantIn(chain: number, grantId: string, count: number): Promise<AuditEntry[]>;
  /**
   * Writer presence, for sharing the chains between writers (src/audit/chain-owners.ts): marks
   * `writer` live for `ttlMs` by the store's own clock (not the caller's, so hosts' clocks need not
   * agree), forgets writers whose time ran out, and returns the live writers' ids, sorted. With
   * `leave`, removes `writer` instead. Absent: every writer routes by `auditChainOf`.
   */
  writers?(writer: string, ttlMs: number, leave?: boolean): Promise<string[]>;
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
   * recorded one: a vault configured with another count must not start (with fewer, readers
   * would stop reading chains that hold records; with more, older writers would not share them).
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

/** A stable 32-bit hash (FNV-1a) of a record's grant, else its user, else its actor, else its action. */
function auditRoutingKey(record: AuditRouting): number {
  const key =
    record.grant !== undefined && record.grant !== ''
      ? `g:${record.grant}`
      : record.user !== undefined && record.user !== ''
        ? `u:${record.user}`
        : record.actor !== undefined && record.actor !== ''
          ? `a:${record.actor}`
          : `k:${record.action}`;
  return fnv1a(key);
}

/** The chain of a record over all chains (its stable key modulo `chains`), the same in every process and after restarts: where a writer without a home chain sends it. */
export function auditChainOf(record: AuditRouting, chains: number): number {
  return chains <= 1 ? 0 : auditRoutingKey(record) % chains;
}

/** `auditChainOf` of a record naming only this grant. */
export function auditChainOfGrant(grantId: string, chains: number): number {
  return auditChainOf({ action: '', grant: grantId }, chains);
}

/**
 * Merges per-chain lists, each newest (highest seq) first, into the newest `count` overall:
 * by time, newest first; on equal times the lower chain first; each list's own order kept.
 */
export function newestFirst(lists: readonly AuditEntry[][], count: number): AuditEntry[] {
  const at = lists.map(() => 0);
  const out: AuditEntry[] = [];
  while (out.length < count) {
    let best = -1;
    for (let i = 0; i < lists.length; i++) {
      const e = lists[i]![at[i]!];
      if (e !== undefined && (best < 0 || e.time > lists[best]![at[best]!]!.time)) best = i;
    }
    if (best < 0) break;
    out.push(lists[best]![at[best]!++]!);
  }
  return out;
}

/** `latestForGrant` from every chain's `latestForGrantIn` (one call per chain, all at once). */
export async function latestForGrantAcross(store: Pick<AuditStore, 'chains' | 'latestForGrantIn'>, grantId: string, count: number): Promise<AuditEntry[]> {
  if (count <= 0) return [];
  const lists = await Promise.all(Array.from({ length: store.chains }, (_, chain) => store.latestForGrantIn(chain, grantId, count)));
  return newestFirst(lists, count);
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
