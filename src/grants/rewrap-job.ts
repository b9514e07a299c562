/**
 * Key-encryption-key rotation: moves every grant's refresh-token ciphertext
 * to the active KEK (docs/architecture.md#secrets-at-rest).
 *
 * Idempotent (a record already on the active key is only authenticated) and
 * resumable (it walks grants in id order from a cursor and reports the cursor
 * it reached). A record that does not open under its own binding — tampered,
 * swapped with another grant's, or wrapped by an unknown key — is reported and
 * never rewritten. Cached access tokens are dropped rather than rewrapped:
 * they are short-lived and refill on the next exchange, so an old KEK is only
 * needed for records this job reports.
 */
import { DecryptionError, UnknownKeyIdError, UnsupportedFormatError, type Envelope } from '../crypto/envelope.js';
import { grantRefreshAad } from './secrets.js';
import type { Grant } from '../store/grant-store.js';
import type { Stores } from '../store/stores.js';

export type RewrapFailure = 'cannot_open' | 'unknown_key' | 'malformed';

export interface RewrapReport {
  /** Key id every rewrapped record now uses. */
  activeKeyId: string;
  scanned: number;
  rewrapped: number;
  alreadyActive: number;
  /** Changed by a concurrent refresh while being rewrapped; the refresh wrote it under the active key. */
  raced: number;
  failed: Array<{ grantId: string; reason: RewrapFailure }>;
  /** Where a stopped run can resume; absent when the walk reached the end. */
  cursor?: string;
  done: boolean;
}

export interface RewrapOptions {
  stores: Pick<Stores, 'grants' | 'tokens'>;
  envelope: Envelope;
  activeKeyId: string;
  pageSize?: number;
  /** Resume after this cursor (from an earlier report). */
  cursor?: string;
  /** Stop after this many pages (for resumable batches); default: run to the end. */
  maxPages?: number;
}

function classify(err: unknown): RewrapFailure {
  if (err instanceof UnknownKeyIdError) return 'unknown_key';
  if (err instanceof UnsupportedFormatError) return 'malformed';
  if (err instanceof DecryptionError) return 'cannot_open';
  throw err;
}

async function rewrapOne(grant: Grant, options: RewrapOptions, report: RewrapReport): Promise<void> {
  const { envelope, stores } = options;
  let next: string;
  try {
    next = envelope.rewrap(grant.refreshToken, grantRefreshAad(grant));
  } catch (err) {
    report.failed.push({ grantId: grant.id, reason: classify(err) });
    return;
  }
  if (next === grant.refreshToken) {
    report.alreadyActive++;
    return;
  }
  if (await stores.grants.rewrapRefreshToken(grant.id, grant.refreshToken, next)) {
    report.rewrapped++;
    await stores.tokens.dropAccessToken(grant.id);
  } else {
    report.raced++;
  }
}

export async function runRewrap(options: RewrapOptions): Promise<RewrapReport> {
  const pageSize = options.pageSize ?? 200;
  const report: RewrapReport = { activeKeyId: options.activeKeyId, scanned: 0, rewrapped: 0, alreadyActive: 0, raced: 0, failed: [], done: false };
  let cursor = options.cursor;
  for (let pages = 0; options.maxPages === undefined || pages < options.maxPages; pages++) {
    const page = await options.stores.grants.list({}, pageSize, cursor);
    for (const grant of page.items) {
      report.scanned++;
      await rewrapOne(grant, options, report);
    }
    if (!page.next) {
      report.done = true;
      return report;
    }
    cursor = page.next;
  }
  if (cursor !== undefined) report.cursor = cursor;
  return report;
}
