import { randomUUID } from 'node:crypto';
import { assertAuditBatch, indexedGrantOf } from '../validation.js';
import { AUDIT_GRANT_INDEX_CAP, type AppendResult, type AuditEntry, type AuditHead, type AuditStore } from '../audit-store.js';
import type { RedisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

/**
 * Redis AuditStore: a stream whose ids are `<seq>-0` plus a head hash, both
 * under `{audit}`. append is one script that compares the head and writes the
 * whole batch, so concurrent writers on many replicas can never fork the chain.
 *
 * Per-grant index: the consent pages show each connection's recent uses, and
 * the stream is ordered only by seq, so finding one grant's records would
 * mean scanning the whole trail. The append script therefore also pushes each
 * entry's seq onto a capped list per grant (`{audit}:grant:<id>`, same slot),
 * and latestForGrant reads at most `count` seqs from it and their entries in
 * one read-only script: O(count) per page view, one round trip.
 */
export class RedisAuditStore implements AuditStore {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: RedisKeys,
  ) {}

  async head(): Promise<AuditHead | null> {
    const [seq, hash] = await this.redis.hmget(this.keys.auditHead(), 'seq', 'hash');
    return toHead(seq, hash);
  }

  async takeTurn(ttlMs: number): Promise<string | null> {
    const token = randomUUID();
    return (await this.redis.set(this.keys.auditTurn(), token, 'PX', ttlMs, 'NX')) === 'OK' ? token : null;
  }

  async append(expectedHead: AuditHead | null, entries: AuditEntry[], turn?: string): Promise<AppendResult> {
    assertAuditBatch(expectedHead, entries);
    // KEYS: stream, head, turn, then one grant index per grant named in the batch; each entry's
    // last ARGV is the KEYS position (1-based) of its index, 0 when it names no grant.
    const keys = [this.keys.auditLog(), this.keys.auditHead(), this.keys.auditTurn()];
    const position = new Map<string, number>();
    const args: (string | number)[] = new Array<string | number>(4 + entries.length * 5);
    args[0] = expectedHead === null ? '' : expectedHead.seq;
    args[1] = expectedHead === null ? '' : expectedHead.hash;
    args[2] = AUDIT_GRANT_INDEX_CAP;
    args[3] = turn ?? '';
    let i = 4;
    for (const e of entries) {
      args[i++] = e.seq;
      args[i++] = e.prev;
      args[i++] = e.hash;
      args[i++] = e.body;
      const grant = indexedGrantOf(e.body);
      let k = 0;
      if (grant !== undefined) {
        k = position.get(grant) ?? keys.push(this.keys.auditGrantIndex(grant));
        position.set(grant, k);
      }
      args[i++] = k;
    }
    const [ok, seq, hash, held] = await this.redis.tvAuditAppend(keys.length, ...keys, ...args);
    if (ok === 1) return { ok: true };
    const head = toHead(seq, hash);
    return held === 1 ? { ok: false, head, turnHeld: true } : { ok: false, head };
  }

  async range(fromSeq: number, count: number): Promise<AuditEntry[]> {
    if (count <= 0) return [];
    const start = fromSeq <= 1 ? '-' : `${Math.floor(fromSeq)}-0`;
    const rows = await this.redis.xrange(this.keys.auditLog(), start, '+', 'COUNT', count);
    return rows.map(([, fields]) => toEntry(fields));
  }

  async latestForGrant(grantId: string, count: number): Promise<AuditEntry[]> {
    if (count <= 0) return [];
    const rows = await this.redis.tvAuditByGrant(this.keys.auditGrantIndex(grantId), this.keys.auditLog(), Math.floor(count));
    return rows.map(toEntry);
  }

  async trimThrough(seq: number): Promise<void> {
    if (seq < 1) return;
    // Exact MINID trim: entries below `<seq + 1>-0` go, the entry at the cut and the head stay.
    await this.redis.xtrim(this.keys.auditLog(), 'MINID', `${Math.floor(seq) + 1}-0`);
  }

  async reverseRange(toSeq: number, count: number): Promise<AuditEntry[]> {
    if (count <= 0 || toSeq < 1) return [];
    // `<seq>-<max>` so an entry slipped in as `<seq>-1` is still seen (verify reports those).
    const end = `${Math.floor(toSeq)}-18446744073709551615`;
    const rows = await this.redis.xrevrange(this.keys.auditLog(), end, '-', 'COUNT', count);
    return rows.map(([, fields]) => toEntry(fields));
  }
}

function toHead(seq: string | null | undefined, hash: string | null | undefined): AuditHead | null {
  return seq == null ? null : { seq: Number(seq), hash: hash ?? '' };
}

/** Fields are written in a fixed order by the append script: seq, prev, hash, body. */
function toEntry(fields: string[]): AuditEntry {
  return { seq: Number(fields[1]), prev: fields[3] ?? '', hash: fields[5] ?? '', body: fields[7] ?? '' };
}
