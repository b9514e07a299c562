/**
 * Audit trail queries for the admin API: newest first, filtered, paged.
 *
 * The trail is N chains, each stored by seq only, so a query walks every chain
 * backwards from its cursor position (or its head) and merges them, newest
 * first by (time, chain, seq), filtering in process. The cursor holds each
 * chain's position (the seq to continue at), so it is stable under concurrent
 * appends: new records get higher seqs and never shift a later page. Two bounds
 * keep one page cheap whatever the filter: at most `scanBudget` entries are
 * consumed per page (the page may then hold fewer items than asked, with a
 * cursor to go on), and a chain's walk stops once its records are older than
 * `from` by more than the clock disorder tolerated between replicas (records
 * are timed by their writer).
 */
import type { AuditAction, AuditDecision, AuditRecord } from '../audit/events.js';
import type { AuditEntry, AuditStore } from '../store/audit-store.js';

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
  /** Where to continue, per chain (opaque to clients); absent when every chain's walk reached its start. */
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

/** A cursor: one position per chain, `.`-separated (0 = that chain is done). */
export const CURSOR = /^(0|[1-9][0-9]{0,15})(\.(0|[1-9][0-9]{0,15})){0,1023}$/;

/** The positions of a cursor for `chains` chains; undefined when it is not one of this trail's. */
export function parseCursor(cursor: string, chains: number): number[] | undefined {
  if (!CURSOR.test(cursor)) return undefined;
  const positions = cursor.split('.').map(Number);
  return positions.length === chains && positions.every(Number.isSafeInteger) ? positions : undefined;
}

/** Newest first: later time, then higher chain, then higher seq. */
function newer(a: AuditEntry, b: AuditEntry): boolean {
  if (a.time !== b.time) return a.time > b.time;
  return a.chain !== b.chain ? a.chain > b.chain : a.seq > b.seq;
}

/** One chain's walk: `next` is the seq to continue at (0 = done), `buffer` what was read below it, newest first. */
interface Walk {
  chain: number;
  next: number;
  buffer: AuditEntry[];
}

export async function queryAudit(store: AuditStore, filter: AuditFilter, limit: number, cursor?: number[], scanBudget = SCAN_BUDGET): Promise<AuditPage> {
  const start = cursor ?? (await store.heads()).map((h) => h?.seq ?? 0);
  const walks: Walk[] = start.map((next, chain) => ({ chain, next, buffer: [] }));
  const chunk = Math.min(READ_CHUNK, Math.max(32, limit));
  const fill = async (w: Walk): Promise<void> => {
    if (w.buffer.length > 0 || w.next < 1) return;
    w.buffer = await store.reverseRange(w.chain, w.next, chunk);
    if (w.buffer.length === 0) w.next = 0;
  };
  await Promise.all(walks.map(fill));
  const items: AuditRecord[] = [];
  let scanned = 0;
  while (items.length < limit && scanned < scanBudget) {
    let pick: Walk | undefined;
    for (const w of walks) if (w.buffer[0] !== undefined && (pick === undefined || newer(w.buffer[0], pick.buffer[0]!))) pick = w;
    if (pick === undefined) break;
    const entry = pick.buffer.shift()!;
    scanned++;
    pick.next = entry.seq - 1;
    const time = Date.parse(entry.time);
    if (filter.from !== undefined && time < filter.from - CLOCK_DISORDER_MS) {
      // This chain has nothing later in range: done with it.
      [pick.next, pick.buffer] = [0, []];
      continue;
    }
    await fill(pick);
    let record: AuditRecord;
    try {
      record = JSON.parse(entry.body) as AuditRecord;
    } catch {
      continue; // Not a record: /admin/audit/verify reports it.
    }
    if (matches(record, time, filter)) items.push(record);
  }
  return walks.some((w) => w.next >= 1) ? { items, next: walks.map((w) => w.next).join('.') } : { items };
}
