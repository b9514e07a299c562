import { randomUUID } from 'node:crypto';
import { assertAuditBatch, indexedGrantOf } from '../validation.js';
import {
  AUDIT_GRANT_INDEX_CAP,
  AuditChainCountError,
  latestForGrantAcross,
  type AppendResult,
  type AuditEntry,
  type AuditHead,
  type AuditStore,
} from '../audit-store.js';
import type { RedisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';
import type { ReplicaWaiters } from './replicas.js';

/** Entries dropped per trim script call: the script runs on Redis's one thread, so it stays short. */
const TRIM_STEP = 1000;

/**
 * Redis AuditStore: per chain `i`, a stream whose ids are `<seq>-0` plus a head
 * hash, both under `{audit:<i>}`. append is one script that compares the
 * chain's head and writes the whole batch, so concurrent writers on many
 * replicas can never fork a chain, and writers of different chains never meet.
 *
 * Per-grant index: the consent pages show each connection's recent uses, and
 * a stream is ordered only by seq, so finding one grant's records would mean
 * scanning it. The append script also pushes each entry's seq onto a capped
 * list per grant and chain (`{audit:<i>}:grant:<id>`, same slot);
 * latestForGrantIn reads at most `count` seqs and their entries in one
 * read-only script, O(count), and latestForGrant does that on every chain at
 * once (the calls leave together) and merges them by time.
 */
export class RedisAuditStore implements AuditStore {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: RedisKeys,
    readonly chains: number,
    /** With `store.redis.minReplicasAck`: an append counts once that many replicas hold it (replicas.ts). */
    private readonly replicas?: ReplicaWaiters,
  ) {}

  async head(chain: number): Promise<AuditHead | null> {
    const [seq, hash] = await this.redis.hmget(this.keys.auditHead(chain), 'seq', 'hash');
    return toHead(seq, hash);
  }

  async heads(): Promise<Array<AuditHead | null>> {
    return Promise.all(Array.from({ length: this.chains }, (_, chain) => this.head(chain)));
  }

  async takeTurn(chain: number, ttlMs: number): Promise<string | null> {
    const token = randomUUID();
    return (await this.redis.set(this.keys.auditTurn(chain), token, 'PX', ttlMs, 'NX')) === 'OK' ? token : null;
  }

  async append(chain: number, expectedHead: AuditHead | null, entries: AuditEntry[], turn?: string, claimMs?: number): Promise<AppendResult> {
    assertAuditBatch(this.chains, chain, expectedHead, entries);
    // KEYS: stream, head, turn, then one grant index per grant named in the batch; each entry's
    // last ARGV is the KEYS position (1-based) of its index, 0 when it names no grant.
    const keys = [this.keys.auditLog(chain), this.keys.auditHead(chain), this.keys.auditTurn(chain)];
    const position = new Map<string, number>();
    const args: (string | number)[] = new Array<string | number>(6 + entries.length * 4);
    args[0] = expectedHead === null ? '' : expectedHead.seq;
    args[1] = expectedHead === null ? '' : expectedHead.hash;
    args[2] = AUDIT_GRANT_INDEX_CAP;
    args[3] = turn ?? '';
    args[4] = this.chains;
    args[5] = claimMs === undefined || turn === undefined ? '' : Math.max(1, Math.floor(claimMs));
    let i = 6;
    // seq and prev are not sent: the script follows them on from the expected head, as checked above.
    for (const e of entries) {
      args[i++] = e.hash;
      args[i++] = e.time;
      args[i++] = e.body;
      const grant = indexedGrantOf(e);
      let k = 0;
      if (grant !== undefined) {
        k = position.get(grant) ?? keys.push(this.keys.auditGrantIndex(chain, grant));
        position.set(grant, k);
      }
      args[i++] = k;
    }
    const [ok, seq, hash, held, layout] = await this.redis.tvAuditAppend(keys.length, ...keys, ...args);
    if (ok === 1) {
      await this.replicas?.replicated(this.keys.auditLog(chain));
      return { ok: true };
    }
    if (layout === 1) throw new AuditChainCountError('audit chain written under another chain count');
    const head = toHead(seq, hash);
    if (held === 1) return { ok: false, head, turnHeld: true };
    return held === 2 ? { ok: false, head, turnTaken: true } : { ok: false, head };
  }

  async range(chain: number, fromSeq: number, count: number): Promise<AuditEntry[]> {
    if (count <= 0) return [];
    const start = fromSeq <= 1 ? '-' : `${Math.floor(fromSeq)}-0`;
    const rows = await this.redis.xrange(this.keys.auditLog(chain), start, '+', 'COUNT', count);
    return rows.map(([, fields]) => toEntry(chain, fields));
  }

  latestForGrant(grantId: string, count: number): Promise<AuditEntry[]> {
    return latestForGrantAcross(this, grantId, count);
  }

  async latestForGrantIn(chain: number, grantId: string, count: number): Promise<AuditEntry[]> {
    if (count <= 0) return [];
    const rows = await this.redis.tvAuditByGrant(this.keys.auditGrantIndex(chain, grantId), this.keys.auditLog(chain), Math.floor(count));
    // The index is in Redis (untrusted): a seq pushed onto it twice names one entry once.
    const seen = new Set<number>();
    return rows.map((fields) => toEntry(chain, fields)).filter((e) => !seen.has(e.seq) && seen.add(e.seq));
  }

  async reverseRange(chain: number, toSeq: number, count: number): Promise<AuditEntry[]> {
    if (count <= 0 || toSeq < 1) return [];
    // `<seq>-<max>` so an entry slipped in as `<seq>-1` is still seen (verify reports those).
    const end = `${Math.floor(toSeq)}-18446744073709551615`;
    const rows = await this.redis.xrevrange(this.keys.auditLog(chain), end, '-', 'COUNT', count);
    return rows.map(([, fields]) => toEntry(chain, fields));
  }

  async trimArchived(chain: number, uptoSeq: number, olderThan: number): Promise<number> {
    const before = new Date(olderThan).toISOString();
    let total = 0;
    for (;;) {
      const n = await this.redis.tvAuditTrim(this.keys.auditLog(chain), this.keys.auditHead(chain), Math.floor(uptoSeq), before, TRIM_STEP);
      total += n;
      if (n < TRIM_STEP) return total;
    }
  }

  async floor(chain: number): Promise<AuditHead | null> {
    const [seq, hash] = await this.redis.hmget(this.keys.auditHead(chain), 'floorSeq', 'floorHash');
    return toHead(seq, hash);
  }

  async writers(writer: string, ttlMs: number, leave = false): Promise<string[]> {
    const live = await this.redis.tvAuditWriters(this.keys.auditWriters(), writer, Math.max(1, Math.floor(ttlMs)), leave ? '1' : '');
    return [...live].sort();
  }

  async claimChainCount(): Promise<number> {
    const previous = await this.redis.set(this.keys.auditChains(), String(this.chains), 'NX', 'GET');
    return previous == null ? this.chains : Number(previous);
  }
}

function toHead(seq: string | null | undefined, hash: string | null | undefined): AuditHead | null {
  return seq == null ? null : { seq: Number(seq), hash: hash ?? '' };
}

/** Fields are written in a fixed order by the append script: seq, prev, hash, time, body. */
function toEntry(chain: number, fields: string[]): AuditEntry {
  return { chain, seq: Number(fields[1]), prev: fields[3] ?? '', hash: fields[5] ?? '', time: fields[7] ?? '', body: fields[9] ?? '' };
}
