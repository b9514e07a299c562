import { randomUUID } from 'node:crypto';
import { assertAuditBatch, indexedGrantOf, sameHead } from '../validation.js';
import { AUDIT_GRANT_INDEX_CAP, type AppendResult, type AuditEntry, type AuditHead, type AuditStore } from '../audit-store.js';

/** In-memory AuditStore: an array indexed by seq - 1, a compare-and-append head, and seqs per grant. */
export class MemoryAuditStore implements AuditStore {
  readonly #entries: AuditEntry[] = [];
  /** Grant id -> seqs of the entries naming it, oldest first, at most AUDIT_GRANT_INDEX_CAP. */
  readonly #byGrant = new Map<string, number[]>();
  #turn: { token: string; until: number } | undefined;

  async head(): Promise<AuditHead | null> {
    return this.#head();
  }

  async takeTurn(ttlMs: number): Promise<string | null> {
    if (this.#turnHolder() !== undefined) return null;
    const token = randomUUID();
    this.#turn = { token, until: Date.now() + ttlMs };
    return token;
  }

  async append(expectedHead: AuditHead | null, entries: AuditEntry[], turn?: string): Promise<AppendResult> {
    assertAuditBatch(expectedHead, entries);
    const head = this.#head();
    const holder = this.#turnHolder();
    if (holder !== undefined && holder !== turn) return { ok: false, head, turnHeld: true };
    if (!sameHead(head, expectedHead)) return { ok: false, head };
    this.#turn = undefined;
    for (const entry of entries) {
      this.#entries.push({ ...entry });
      const grant = indexedGrantOf(entry.body);
      if (grant === undefined) continue;
      const seqs = this.#byGrant.get(grant) ?? [];
      seqs.push(entry.seq);
      if (seqs.length > AUDIT_GRANT_INDEX_CAP) seqs.shift();
      this.#byGrant.set(grant, seqs);
    }
    return { ok: true };
  }

  #turnHolder(): string | undefined {
    if (this.#turn !== undefined && this.#turn.until <= Date.now()) this.#turn = undefined;
    return this.#turn?.token;
  }

  async range(fromSeq: number, count: number): Promise<AuditEntry[]> {
    const start = Math.max(fromSeq, 1) - 1;
    return this.#entries.slice(start, start + Math.max(count, 0)).map((e) => ({ ...e }));
  }

  async reverseRange(toSeq: number, count: number): Promise<AuditEntry[]> {
    const end = Math.min(Math.floor(toSeq), this.#entries.length);
    if (end < 1 || count <= 0) return [];
    return this.#entries
      .slice(Math.max(end - count, 0), end)
      .reverse()
      .map((e) => ({ ...e }));
  }

  async latestForGrant(grantId: string, count: number): Promise<AuditEntry[]> {
    if (count <= 0) return [];
    const seqs = this.#byGrant.get(grantId) ?? [];
    return seqs
      .slice(-count)
      .reverse()
      .map((seq) => ({ ...this.#entries[seq - 1]! }));
  }

  #head(): AuditHead | null {
    const last = this.#entries[this.#entries.length - 1];
    return last === undefined ? null : { seq: last.seq, hash: last.hash };
  }
}
