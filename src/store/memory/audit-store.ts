import { randomUUID } from 'node:crypto';
import { assertAuditBatch, indexedGrantOf, sameHead } from '../validation.js';
import { AUDIT_GRANT_INDEX_CAP, latestForGrantAcross, type AppendResult, type AuditEntry, type AuditHead, type AuditStore } from '../audit-store.js';

/** One chain: its entries from `floor.seq + 1` on, the last trimmed entry, and its append turn. */
interface Chain {
  entries: AuditEntry[];
  floor: AuditHead | null;
  turn?: { token: string; until: number };
}

/** In-memory AuditStore: per chain an array of entries and a compare-and-append head; seqs per grant and chain. */
export class MemoryAuditStore implements AuditStore {
  readonly #chains: Chain[];
  /** `<chain>:<grant id>` -> seqs of that chain's entries naming the grant, oldest first, at most AUDIT_GRANT_INDEX_CAP. */
  readonly #byGrant = new Map<string, number[]>();
  /** Live writers (AuditStore.writers): id -> when its time runs out (epoch ms). */
  readonly #writers = new Map<string, number>();

  constructor(readonly chains = 1) {
    this.#chains = Array.from({ length: chains }, () => ({ entries: [], floor: null }));
  }

  async head(chain: number): Promise<AuditHead | null> {
    return this.#head(this.#chain(chain));
  }

  async heads(): Promise<Array<AuditHead | null>> {
    return this.#chains.map((c) => this.#head(c));
  }

  async takeTurn(chain: number, ttlMs: number): Promise<string | null> {
    const c = this.#chain(chain);
    if (turnHolder(c) !== undefined) return null;
    const token = randomUUID();
    c.turn = { token, until: Date.now() + ttlMs };
    return token;
  }

  async append(chain: number, expectedHead: AuditHead | null, entries: AuditEntry[], turn?: string, claimMs?: number): Promise<AppendResult> {
    assertAuditBatch(this.chains, chain, expectedHead, entries);
    const c = this.#chain(chain);
    const head = this.#head(c);
    const holder = turnHolder(c);
    if (holder !== undefined && holder !== turn) return { ok: false, head, turnHeld: true };
    if (!sameHead(head, expectedHead)) {
      if (turn === undefined || turn === '' || claimMs === undefined) return { ok: false, head };
      c.turn = { token: turn, until: Date.now() + Math.max(1, Math.floor(claimMs)) };
      return { ok: false, head, turnTaken: true };
    }
    delete c.turn;
    for (const entry of entries) {
      const { grant: _named, ...stored } = entry;
      c.entries.push(stored);
      const grant = indexedGrantOf(entry);
      if (grant === undefined) continue;
      const key = `${chain}:${grant}`;
      const seqs = this.#byGrant.get(key) ?? [];
      seqs.push(entry.seq);
      if (seqs.length > AUDIT_GRANT_INDEX_CAP) seqs.shift();
      this.#byGrant.set(key, seqs);
    }
    return { ok: true };
  }

  async range(chain: number, fromSeq: number, count: number): Promise<AuditEntry[]> {
    const c = this.#chain(chain);
    const start = Math.max(fromSeq - (c.floor?.seq ?? 0), 1) - 1;
    return c.entries.slice(start, start + Math.max(count, 0)).map((e) => ({ ...e }));
  }

  async reverseRange(chain: number, toSeq: number, count: number): Promise<AuditEntry[]> {
    const c = this.#chain(chain);
    const end = Math.min(Math.floor(toSeq) - (c.floor?.seq ?? 0), c.entries.length);
    if (end < 1 || count <= 0) return [];
    return c.entries
      .slice(Math.max(end - count, 0), end)
      .reverse()
      .map((e) => ({ ...e }));
  }

  latestForGrant(grantId: string, count: number): Promise<AuditEntry[]> {
    return latestForGrantAcross(this, grantId, count);
  }

  async latestForGrantIn(chain: number, grantId: string, count: number): Promise<AuditEntry[]> {
    if (count <= 0) return [];
    const c = this.#chain(chain);
    const base = c.floor?.seq ?? 0;
    const out: AuditEntry[] = [];
    for (const seq of (this.#byGrant.get(`${chain}:${grantId}`) ?? []).slice(-count).reverse()) {
      const entry = c.entries[seq - base - 1];
      if (entry !== undefined) out.push({ ...entry });
    }
    return out;
  }

  async trimArchived(chain: number, uptoSeq: number, olderThan: number): Promise<number> {
    const c = this.#chain(chain);
    const before = new Date(olderThan).toISOString();
    let n = 0;
    while (n < c.entries.length && c.entries[n]!.seq <= uptoSeq && c.entries[n]!.time < before) n++;
    if (n === 0) return 0;
    const last = c.entries[n - 1]!;
    c.floor = { seq: last.seq, hash: last.hash };
    c.entries.splice(0, n);
    return n;
  }

  async floor(chain: number): Promise<AuditHead | null> {
    const f = this.#chain(chain).floor;
    return f === null ? null : { ...f };
  }

  async writers(writer: string, ttlMs: number, leave = false): Promise<string[]> {
    const now = Date.now();
    for (const [id, until] of this.#writers) if (until <= now) this.#writers.delete(id);
    if (leave) this.#writers.delete(writer);
    else this.#writers.set(writer, now + Math.max(1, Math.floor(ttlMs)));
    return [...this.#writers.keys()].sort();
  }

  async claimChainCount(): Promise<number> {
    return this.chains;
  }

  #chain(chain: number): Chain {
    const c = this.#chains[chain];
    if (c === undefined) throw new RangeError('audit chain out of range');
    return c;
  }

  #head(c: Chain): AuditHead | null {
    const last = c.entries[c.entries.length - 1];
    if (last !== undefined) return { seq: last.seq, hash: last.hash };
    return c.floor === null ? null : { ...c.floor };
  }
}

function turnHolder(c: Chain): string | undefined {
  if (c.turn !== undefined && c.turn.until <= Date.now()) delete c.turn;
  return c.turn?.token;
}
