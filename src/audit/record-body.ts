/**
 * The body of a chain entry (encoding version 1, src/audit/chain.ts): canonical JSON of an
 * AuditRecord, written in one pass. A record's fields are a fixed set, so they are laid out in
 * their sorted order once here instead of being sorted per record; the output is byte-for-byte
 * what `canonicalJson` gives (test/unit/audit/record-body.test.ts), which stays the rule and
 * the fallback for anything outside that set.
 */
import type { AuditRecord } from './events.js';

/** Every field of an AuditRecord, sorted by UTF-16 code unit (the canonical order). */
const RECORD_FIELDS = [
  'action',
  'actor',
  'agent',
  'chain',
  'decision',
  'details',
  'gateway',
  'grant',
  'jti',
  'operation',
  'provider',
  'reason',
  'requestId',
  'seq',
  'time',
  'tokenHmac',
  'traceId',
  'user',
] as const satisfies readonly (keyof AuditRecord)[];

const KNOWN: ReadonlySet<string> = new Set(RECORD_FIELDS);

/**
 * Keys JSON.stringify would not keep in insertion order (array-index-like keys come first in
 * ascending numeric order), so an object with one of them is left to `canonicalJson`.
 */
const INDEX_LIKE = /^(0|[1-9]\d*)$/;

/** Values both encoders write the same way with JSON.stringify. */
const flat = (value: unknown) => value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';

/**
 * The record's canonical JSON, or undefined when it holds anything the fixed layout does not
 * cover (an unknown field, a nested value other than a flat `details` map): the caller then
 * uses `canonicalJson`.
 */
export function recordBody(record: AuditRecord): string | undefined {
  const ordered: Record<string, unknown> = {};
  for (const field of RECORD_FIELDS) {
    const value: unknown = record[field];
    if (value === undefined) continue;
    if (field === 'details') {
      const details = sortedDetails(value);
      if (details === undefined) return undefined;
      ordered[field] = details;
    } else if (flat(value)) ordered[field] = value;
    else return undefined;
  }
  for (const key in record) if (!KNOWN.has(key) && (record as unknown as Record<string, unknown>)[key] !== undefined) return undefined;
  return JSON.stringify(ordered);
}

function sortedDetails(details: unknown): Record<string, unknown> | undefined {
  if (typeof details !== 'object' || details === null || Array.isArray(details)) return undefined;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(details).sort()) {
    const value: unknown = (details as Record<string, unknown>)[key];
    if (INDEX_LIKE.test(key) || !(value === undefined || flat(value))) return undefined;
    out[key] = value;
  }
  return out;
}
