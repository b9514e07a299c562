import { assertAuditBatch, sameHead } from '../validation.js';
import type { AppendResult, AuditEntry, AuditHead, AuditStore } from '../types.js';

/** In-memory AuditStore: an array indexed by seq - 1 and a compare-and-append head. */
export class MemoryAuditStore implements AuditStore {
  readonly #entries: AuditEntry[] = [];

  async head(): Promise<AuditHead | null> {
    return this.#head();
  }

  async append(expectedHead: AuditHead | null, entries: AuditEntry[]): Promise<AppendResult> {
    assertAuditBatch(expectedHead, entries);
    const head = this.#head();
    if (!sameHead(head, expectedHead)) return { ok: false, head };
    for (const entry of entries) this.#entries.push({ ...entry });
    return { ok: true };
  }

  async range(fromSeq: number, count: number): Promise<AuditEntry[]> {
    const start = Math.max(fromSeq, 1) - 1;
    return this.#entries.slice(start, start + Math.max(count, 0)).map((e) => ({ ...e }));
  }

  async reverseRange(toSeq: number, count: number): Promise<AuditEntry[]> {
    const end = Math.min(Math.floor(toSeq), this.#entries.length);
    if (end < 1 || count <= 0) return [];
    return this.#entries.slice(Math.max(end - count, 0), end).reverse().map((e) => ({ ...e }));
  }

  #head(): AuditHead | null {
    const last = this.#entries[this.#entries.length - 1];
    return last === undefined ? null : { seq: last.seq, hash: last.hash };
  }
}
