import type { AuditEntry, AuditHead } from './audit-store.js';

/**
 * Normalises a TTL to whole milliseconds. A non-positive or non-finite TTL is a
 * caller bug (an already expired record must not be written), so it throws
 * instead of silently storing something that never expires or expires at once.
 */
export function ttlToMs(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError('ttlMs must be a positive finite number');
  return Math.ceil(ttlMs);
}

/**
 * An audit batch must continue the chain it was built on: consecutive seqs
 * of the chain appended to, starting right after `expectedHead`, each `prev` naming the hash before it.
 * Checked before the atomic append so a malformed batch can never half-apply.
 */
export function assertAuditBatch(chains: number, chain: number, expectedHead: AuditHead | null, entries: AuditEntry[]): void {
  if (!Number.isSafeInteger(chain) || chain < 0 || chain >= chains) throw new RangeError('audit chain out of range');
  let seq = expectedHead === null ? 0 : expectedHead.seq;
  let prev = expectedHead === null ? '' : expectedHead.hash;
  for (const entry of entries) {
    seq += 1;
    if (entry.chain !== chain) throw new RangeError('audit entries must belong to the chain appended to');
    if (entry.seq !== seq) throw new RangeError('audit entries must have consecutive seq after the head');
    if (entry.prev !== prev) throw new RangeError('audit entry prev must equal the preceding hash');
    prev = entry.hash;
  }
}

/** Equality of two chain heads (null = empty chain). */
export function sameHead(a: AuditHead | null, b: AuditHead | null): boolean {
  if (a === null || b === null) return a === b;
  return a.seq === b.seq && a.hash === b.hash;
}

/**
 * The grant an audit entry's record names (its top-level `grant`), for the
 * per-grant index: `entry.grant` when its writer gave it, else read from the body. A body that is not a JSON object, or names no grant as a
 * string, is simply not indexed: the chain keeps it and verify judges it.
 */
export function indexedGrantOf(entry: AuditEntry): string | undefined {
  if (entry.grant !== undefined) return entry.grant === '' ? undefined : entry.grant;
  let record: unknown;
  try {
    record = JSON.parse(entry.body);
  } catch {
    return undefined;
  }
  if (typeof record !== 'object' || record === null) return undefined;
  const grant = (record as { grant?: unknown }).grant;
  return typeof grant === 'string' && grant !== '' ? grant : undefined;
}
