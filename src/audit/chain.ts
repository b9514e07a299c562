/**
 * An audit hash chain (the trail is N of them, see src/store/audit-store.ts).
 *
 * Encoding (version 1), for every entry:
 *
 *   hash = base64url(HMAC-SHA-256(auditKey, prev + "\n" + seq + "\n" + body))
 *
 * - `prev`: the previous entry's `hash` ('' for seq 1); base64url, so it never
 *   contains "\n".
 * - `seq`: decimal, no leading zeros, 1-based and gap-free.
 * - `body`: canonical JSON of the AuditRecord (object keys sorted by UTF-16
 *   code unit at every level, no whitespace, JSON.stringify escaping). It is
 *   last, so it may contain anything; it always starts with "{".
 *
 * The two separators split the MAC input unambiguously because neither `prev`
 * nor `seq` can contain "\n", and binding `seq` as well as `prev` means an
 * entry cannot be moved to another position with its MAC still valid.
 *
 * Trust model: the chain lives in Redis, which is untrusted for integrity as
 * well as confidentiality. The MAC key lives outside Redis (keys directory), so
 * someone with Redis write access can delete, reorder or replay entries but
 * cannot write a new entry, or re-link the chain around a gap, that verifies.
 * Deleting the newest entries leaves a valid shorter chain: only a checkpoint
 * kept outside Redis (checkpoint.ts) detects that.
 */
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { AuditEntry, AuditHead } from '../store/audit-store.js';
import type { AuditRecord } from './events.js';
import { recordBody } from './record-body.js';

/** JSON with object keys in sorted order at every level: equal records give byte-equal bodies. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const out = JSON.stringify(value);
    if (out === undefined) throw new TypeError('value has no JSON form');
    return out;
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const parts: string[] = [];
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}

/** The MAC of one entry (see the encoding above). */
export function chainHash(key: KeyObject, prev: string, seq: number, body: string): string {
  return createHmac('sha256', key).update(`${prev}\n${seq}\n`).update(body).digest('base64url');
}

/** Constant-time comparison of a stored hash with the recomputed one. */
export function sameHash(stored: string, expected: string): boolean {
  const a = Buffer.from(stored);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether an entry's stored hash is the MAC of its own prev, seq and body. */
export function entryVerifies(key: KeyObject, entry: AuditEntry): boolean {
  return sameHash(entry.hash, chainHash(key, entry.prev, entry.seq, entry.body));
}

/**
 * Chains records onto `head` of chain `chain`: assigns each its chain and seq,
 * serialises it and links it. Returns the entries to append and the records as
 * stored (chain and seq filled in). The chain is inside the body, hence under
 * the MAC: an entry copied into another chain does not verify there.
 */
export function chainRecords(
  key: KeyObject,
  chain: number,
  head: AuditHead | null,
  records: readonly Omit<AuditRecord, 'seq' | 'chain'>[],
): { entries: AuditEntry[]; stored: AuditRecord[] } {
  let seq = head?.seq ?? 0;
  let prev = head?.hash ?? '';
  const entries: AuditEntry[] = new Array<AuditEntry>(records.length);
  const stored: AuditRecord[] = new Array<AuditRecord>(records.length);
  records.forEach((input, i) => {
    seq += 1;
    const record: AuditRecord = { ...input, chain, seq };
    const body = recordBody(record) ?? canonicalJson(record);
    const hash = chainHash(key, prev, seq, body);
    entries[i] = { chain, seq, prev, hash, time: record.time, body, grant: typeof record.grant === 'string' ? record.grant : '' };
    stored[i] = record;
    prev = hash;
  });
  return { entries, stored };
}
