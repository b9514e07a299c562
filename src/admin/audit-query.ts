/**
 * Audit trail queries for the admin API: newest first, filtered, paged.
 *
 * The chain is stored by sequence number only, so a query walks backwards from
 * its cursor (or the head) and filters in process. Two bounds keep one page
 * cheap whatever the filter: at most `scanBudget` entries are read per page
 * (the page may then hold fewer items than asked, with a cursor to go on), and
 * the walk stops once records are older than `from` by more than the clock
 * disorder tolerated between replicas (records are timed by their writer).
 */
import type { AuditAction, AuditDecision, AuditRecord } from '../audit/events.js';
import type { AuditStore } from '../store/audit-store.js';

export interface AuditFilter {
  /** Inclusive time bounds, epoch ms. */
  from?: number;
  to?: number;
  agent?: string;
  user?: string;
  provider?: string;
  gateway?: string;
  grant?: string;
  actor?: string;
  decision?: AuditDecision;
  action?: AuditAction;
  traceId?: string;
}

export interface AuditPage {
  items: AuditRecord[];
  /** Seq to continue below (opaque to clients); absent when the walk reached the start of the chain. */
  next?: string;
}

/** Replicas' clocks may disagree by this much: records stay roughly, not strictly, time-ordered. */
export const CLOCK_DISORDER_MS = 60_000;
const SCAN_BUDGET = 5_000;
const READ_CHUNK = 500;

const FIELDS = ['agent', 'user', 'provider', 'gateway', 'grant', 'actor', 'decision', 'action', 'traceId'] as const;

function matches(record: AuditRecord, time: number, filter: AuditFilter): boolean {
  if (filter.from !== undefined && time < filter.from) return false;
  if (filter.to !== undefined && time > filter.to) return false;
  return FIELDS.every((f) => filter[f] === undefined || record[f] === filter[f]);
}

export async function queryAudit(store: AuditStore, filter: AuditFilter, limit: number, cursor?: number, scanBudget = SCAN_BUDGET): Promise<AuditPage> {
  let below = cursor ?? (await store.head())?.seq ?? 0;
  const items: AuditRecord[] = [];
  let scanned = 0;
  while (below >= 1 && items.length < limit && scanned < scanBudget) {
    const chunk = await store.reverseRange(below, Math.min(READ_CHUNK, scanBudget - scanned));
    if (chunk.length === 0) return { items };
    for (const entry of chunk) {
      scanned++;
      below = entry.seq - 1;
      let record: AuditRecord;
      try {
        record = JSON.parse(entry.body) as AuditRecord;
      } catch {
        continue; // Not a record: /admin/audit/verify reports it.
      }
      const time = Date.parse(record.time);
      if (filter.from !== undefined && time < filter.from - CLOCK_DISORDER_MS) return { items };
      if (matches(record, time, filter)) items.push(record);
      if (items.length === limit) break;
    }
  }
  return below >= 1 ? { items, next: String(below) } : { items };
}
