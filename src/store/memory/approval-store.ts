import type { ApprovalBinding, ApprovalRecord, ApprovalStatus, ApprovalStore, ApprovalView, DecideOutcome, Decider, PollOutcome } from '../approval-store.js';
import { statusAt } from '../approval-store.js';
import { ExpiringMap } from './expiring-map.js';

interface Entry {
  record: ApprovalRecord;
  status: Exclude<ApprovalStatus, 'expired'>;
  lastPollAt?: number;
  decidedBy?: string;
  decidedAt?: number;
}

/** In-memory ApprovalStore: each method runs to completion in one turn of the event loop, so every step is atomic. */
export class MemoryApprovalStore implements ApprovalStore {
  readonly #entries = new ExpiringMap<Entry>();
  readonly #ids = new Set<string>();

  async create(record: ApprovalRecord, retainUntil: number): Promise<void> {
    this.#entries.set(record.id, { record: { ...record }, status: 'pending' }, Math.max(1, retainUntil - Date.now()));
    this.#ids.add(record.id);
  }

  async get(id: string, now: number): Promise<ApprovalView | null> {
    const entry = this.#entries.get(id);
    return entry ? view(entry, now) : null;
  }

  async pendingForUser(userId: string, now: number): Promise<ApprovalView[]> {
    return this.#pending(now, (r) => r.approver === 'user' && r.userId === userId);
  }

  async pendingForAdmins(now: number): Promise<ApprovalView[]> {
    return this.#pending(now, (r) => r.approver === 'admin');
  }

  async poll(id: string, binding: ApprovalBinding, now: number): Promise<PollOutcome> {
    const entry = this.#entries.get(id);
    if (!entry || !bound(entry.record, binding)) return { outcome: 'unknown' };
    if (entry.status === 'consumed') return { outcome: 'consumed' };
    if (statusAt(entry.status, entry.record.expiresAt, now) === 'expired') return { outcome: 'expired' };
    const last = entry.lastPollAt;
    entry.lastPollAt = now;
    if (last !== undefined && now - last < entry.record.intervalMs) return { outcome: 'slow_down' };
    if (entry.status !== 'approved') return { outcome: entry.status };
    entry.status = 'consumed';
    return { outcome: 'approved', record: { ...entry.record } };
  }

  async decide(id: string, decision: 'approved' | 'denied', by: Decider, now: number): Promise<DecideOutcome> {
    const entry = this.#entries.get(id);
    if (!entry || entry.record.approver !== by.role || (by.role === 'user' && entry.record.userId !== by.id)) return 'unknown';
    if (entry.status !== 'pending') return 'already_decided';
    if (now >= entry.record.expiresAt) return 'expired';
    Object.assign(entry, { status: decision, decidedBy: `${by.role}:${by.id}`, decidedAt: now });
    return 'decided';
  }

  #pending(now: number, keep: (record: ApprovalRecord) => boolean): ApprovalView[] {
    const out: ApprovalView[] = [];
    for (const id of [...this.#ids]) {
      const entry = this.#entries.get(id);
      if (!entry) this.#ids.delete(id);
      else if (keep(entry.record) && statusAt(entry.status, entry.record.expiresAt, now) === 'pending') out.push(view(entry, now));
    }
    return out.sort((a, b) => a.record.createdAt - b.record.createdAt);
  }
}

const bound = (record: ApprovalRecord, b: ApprovalBinding) =>
  record.gateway === b.gateway && record.certThumbprint === b.certThumbprint && record.agent === b.agent && record.userId === b.userId;

function view(entry: Entry, now: number): ApprovalView {
  return {
    record: { ...entry.record },
    status: statusAt(entry.status, entry.record.expiresAt, now),
    ...(entry.decidedBy !== undefined && { decidedBy: entry.decidedBy }),
    ...(entry.decidedAt !== undefined && { decidedAt: entry.decidedAt }),
  };
}
