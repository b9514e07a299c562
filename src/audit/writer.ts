/**
 * The audit writer: validates events, chains them and appends them with group
 * commit, resolving each caller only once its record is durable in the store
 * (audit before answer: docs/architecture.md#security-properties).
 *
 * Group commit: while one append is in flight, new events queue up; the next
 * append carries the whole queue (up to `maxBatch`) in one store call, which
 * for Redis is one script round trip. Under load the cost of the round trip is
 * shared by every request in the batch; when idle a batch is one event and
 * waits only for the current microtask to end.
 *
 * The trail is N chains (src/store/audit-store.ts): with two or more live
 * writers, each sends every event to a home chain of its own; a lone writer
 * spreads them over all chains by their stable key (src/audit/chain-owners.ts).
 * Each chain has its own queue, group commit, cached head and append turn
 * here, so appends to different chains run side by side, and replicas meet on
 * a chain only while the list of writers changes or when there are more
 * writers than chains.
 *
 * Whoever appends, each writer caches the head it last wrote; the store
 * appends only if that is still the head and otherwise returns the current
 * one, so a batch is re-chained on it and retried. A
 * writer that lost a race retries at once on the head it got back; losing
 * again, it takes the chain's append turn in the same store call that refused
 * it (when the store has turns): while a turn is held only its holder can
 * append, so contended replicas take turns instead of colliding until one
 * gives up, and taking the turn costs no round trip of its own. The
 * same events (same objects, same acceptance times) are retried, so nothing is
 * duplicated or dropped, and at most one of the attempts is ever applied.
 *
 * A store error fails the whole batch and forgets the chain's cached head. For Redis a
 * failed write means "outcome unknown": the batch may still land. Its callers
 * have already failed closed, so the trail can over-report (a record for an
 * answer never sent) but never under-report; events are never resent.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditHead, AuditStore } from '../store/audit-store.js';
import { createChainRouter } from './chain-owners.js';
import { chainRecords } from './chain.js';
import { AuditContentionError, AuditOverloadError } from './errors.js';
import { assertAuditEvent } from './event-guard.js';
import type { AuditEventInput, AuditRecord, AuditWriter } from './events.js';
import { deriveAuditKeys } from './keys.js';
import { detached, withinBudget } from '../store/budget.js';

export interface AuditWriterOptions {
  store: AuditStore;
  /** KeyMaterial.auditHmacKey: at least 32 bytes, kept outside the store. */
  hmacKey: Uint8Array;
  /** Mirror of every durable record, one call per record, in chain order (the app logs `{ audit: record }`). */
  log?: (record: AuditRecord) => void;
  /** Called after each successful append with the chain, its new head and how many records it added (checkpointer). */
  onCommit?: (chain: number, head: AuditHead, count: number) => void;
  now?: () => number;
  /** Most records in one append (to one chain); default 256. */
  maxBatch?: number;
  /** Events allowed to wait behind the in-flight appends (all chains) before record() rejects at once; default 10,000. */
  maxQueue?: number;
  /**
   * Re-chain attempts when another replica moved the head or holds the turn; default 60 (with the
   * pauses below, ≈ 0.6 s in all at worst), and never less than a turn's time to live.
   */
  maxRetries?: number;
  /**
   * Who is told of each append (group commit) and of the queue behind it: the metrics of the app
   * using this writer, which is built after it (boot.ts), hence a lookup.
   */
  metrics?: () => AuditWriterMetrics | undefined;
}

export interface AuditWriterMetrics {
  /** One append attempt sequence of one batch: how long until durable (or failed), how many records. */
  appended(seconds: number, records: number, ok: boolean): void;
  /** Events waiting behind the append in flight. */
  queued(depth: number): void;
}

interface Pending {
  input: Omit<AuditRecord, 'seq' | 'chain'>;
  resolve: (record: AuditRecord) => void;
  reject: (err: unknown) => void;
}

/**
 * Pause before a re-chain attempt: random in [0, min(2^attempt, 20)) ms. Fixed short jitter kept
 * replicas colliding under steady load from several replicas (3 replicas × 16 writers: 3 % of
 * records gave up after 20 attempts); exponential backoff lets one replica win the head at a time.
 */
const backoffMs = (attempt: number) => Math.random() * Math.min(2 ** attempt, 20);

/**
 * Pause before retrying while another writer holds the chain's turn: random in
 * [0, min(2^attempt, 4)) ms. The holder needs one append (about a round trip) before the turn is
 * free again, so a longer pause only adds latency.
 */
const turnWaitMs = (attempt: number) => Math.random() * Math.min(2 ** attempt, 4);

/** How long a taken append turn blocks other writers at most (if its holder dies or stalls). */
const TURN_TTL_MS = 250;

/** The process's own writer: shutdown waits for its queue (main.ts). */
export interface FlushableAuditWriter extends AuditWriter {
  /** Resolves once every event recorded so far is durable or failed (the queue is empty and no append is in flight). */
  flush(): Promise<void>;
  leave(): Promise<void>;
}

/** One chain's side of the writer: its queue, its append in flight and its cached head. */
interface Lane {
  chain: number;
  queue: Pending[];
  draining: boolean;
  /** The drain in flight, for flush(). */
  drained: Promise<void>;
  /** undefined = unknown (start, or after a store error): read it before the next append. */
  head: AuditHead | null | undefined;
}

export function createAuditWriter(opts: AuditWriterOptions): FlushableAuditWriter {
  const keys = deriveAuditKeys(opts.hmacKey);
  const { store } = opts;
  const log = opts.log ?? (() => {});
  const now = opts.now ?? Date.now;
  const maxBatch = opts.maxBatch ?? 256;
  const maxQueue = opts.maxQueue ?? 10_000;
  const maxRetries = opts.maxRetries ?? 60;
  const metrics = opts.metrics ?? (() => undefined);
  /** This writer's turn token: a refused append claims the chain's turn under it (AuditStore.append). */
  const self = randomUUID();
  /** Which chain each event goes to (src/audit/chain-owners.ts); `self` is also the writer's id there. */
  const router = createChainRouter(store, self);

  const lanes: Lane[] = Array.from({ length: store.chains }, (_, chain) => ({
    chain,
    queue: [],
    draining: false,
    drained: Promise.resolve(),
    head: undefined,
  }));
  /** Events waiting in every lane (not yet in an append). */
  let queued = 0;
  /** The last append failed: callers wait no longer than their request's store budget. */
  let failing = false;

  async function drain(lane: Lane): Promise<void> {
    try {
      while (lane.queue.length > 0) {
        const batch = take(lane, maxBatch);
        metrics()?.queued(queued);
        await commit(lane, batch);
      }
    } finally {
      lane.draining = false;
    }
  }

  function take(lane: Lane, n: number): Pending[] {
    const batch = lane.queue.splice(0, n);
    queued -= batch.length;
    return batch;
  }

  async function commit(lane: Lane, batch: Pending[]): Promise<void> {
    const started = performance.now();
    try {
      for (let attempt = 0; ; attempt++) {
        if (lane.head === undefined) lane.head = await store.head(lane.chain);
        const { entries, stored } = chainRecords(
          keys.chain,
          lane.chain,
          lane.head,
          batch.map((p) => p.input),
        );
        // The first retry goes at once on the head the refusal returned, without the turn: a
        // handover then costs no pause, and most first retries land. From the second on it asks
        // for the turn, so a writer losing again and again cannot starve (no give-ups).
        const claim = attempt >= 1;
        const result = await store.append(lane.chain, lane.head, entries, self, claim ? TURN_TTL_MS : undefined);
        if (result.ok) {
          const last = entries[entries.length - 1];
          if (last !== undefined) lane.head = { seq: last.seq, hash: last.hash };
          metrics()?.appended((performance.now() - started) / 1000, batch.length, true);
          failing = false;
          settle(lane, batch, stored);
          return;
        }
        lane.head = result.head;
        // Never before a turn could have run out: a stalled holder (GC, a busy CPU) is waited out.
        if (attempt >= maxRetries && performance.now() - started > TURN_TTL_MS) throw new AuditContentionError('audit chain head contended');
        // Lost a race, and the refusal made the chain's turn ours (or we did not ask yet): retry
        // at once on the head it returned. Another writer's turn: it needs one append, so wait
        // about a round trip. Asked for the turn and got none (a store without turns): back off.
        if (result.turnHeld === true) await sleep(turnWaitMs(attempt));
        else if (result.turnTaken !== true && claim) await sleep(backoffMs(attempt));
        // Events that queued during the pause ride along instead of waiting for another round trip.
        if (batch.length < maxBatch) batch.push(...take(lane, maxBatch - batch.length));
      }
    } catch (err) {
      lane.head = undefined;
      failing = true;
      metrics()?.appended((performance.now() - started) / 1000, batch.length, false);
      for (const p of batch) p.reject(err);
    }
  }

  function settle(lane: Lane, batch: Pending[], stored: AuditRecord[]): void {
    batch.forEach((p, i) => {
      const record = stored[i];
      if (record !== undefined) p.resolve(record);
    });
    // The records are durable whatever the mirror does: a failing logger must not fail callers.
    for (const record of stored) {
      try {
        log(record);
      } catch {}
    }
    if (opts.onCommit !== undefined && lane.head) {
      try {
        opts.onCommit(lane.chain, lane.head, stored.length);
      } catch {}
    }
  }

  return {
    record(event: AuditEventInput): Promise<AuditRecord> {
      try {
        assertAuditEvent(event);
      } catch (err) {
        return Promise.reject(err);
      }
      if (queued >= maxQueue) return Promise.reject(new AuditOverloadError('audit queue full'));
      // Copied now: the caller mutating its object later must not change what was validated.
      const input: Omit<AuditRecord, 'seq' | 'chain'> = { ...event, time: new Date(now()).toISOString() };
      if (event.details !== undefined) input.details = { ...event.details };
      const lane = lanes[router.chainOf(event)]!;
      const durable = new Promise<AuditRecord>((resolve, reject) => {
        lane.queue.push({ input, resolve, reject });
        queued += 1;
        metrics()?.queued(queued);
        if (lane.draining) return;
        lane.draining = true;
        // Deferred to the end of the current microtask so events recorded in one tick share one append;
        // the append serves every request in the batch, so no one request's budget bounds it.
        lane.drained = new Promise<void>((resolve) => queueMicrotask(() => detached(() => void drain(lane).finally(resolve))));
      });
      // While appends succeed, a slow one only means a busy process (each store call inside is
      // bounded on its own); once the request's store or the last append failed, the caller waits
      // no longer than its request's store budget (src/store/budget.ts). A record may still land
      // later, which over-reports an answer never sent, never under-reports.
      return withinBudget(durable, { afterFailureOnly: !failing });
    },

    tokenHmac(token: string): string {
      return createHmac('sha256', keys.tokenHmac).update(token).digest('base64url');
    },

    async flush(): Promise<void> {
      for (const lane of lanes) while (lane.draining || lane.queue.length > 0) await lane.drained;
    },

    leave: () => router.leave(),
  };
}
