/**
 * The archiver: copies each audit chain from the live store (Redis) into the PostgreSQL archive,
 * then trims what is both archived and older than the retention window.
 *
 * Several replicas run one each. A pass over a chain runs under that chain's lease (an owner-token
 * lock, `SET NX PX`), so usually one replica copies a chain at a time; the lease is not what keeps
 * the archive right, the archive is. Every pass starts from the archive's own highest seq
 * (`archivedThrough`) and copies contiguously from there, and an insert of a record already there
 * is a no-op (same chain, seq and time). So a replica whose lease ran out mid-pass, or died, can
 * only re-insert records that are already archived: no duplicate, and no gap, because nothing ever
 * starts above what the archive holds. Delivery is at least once, the result exactly once.
 *
 * Retention trims only records at or below the archived seq (read from the archive in the same
 * pass) and older than the window: a record leaves Redis only once PostgreSQL holds it.
 *
 * Signed checkpoints (src/audit/checkpoint.ts) of heads the archive already holds are stored next
 * to the records, so the archive verifies alone (verify-archive.ts).
 */
import type { LockStore } from '../../store/lock-store.js';
import type { AuditCheckpoint } from '../checkpoint.js';
import { monthOf, type PgAuditArchive } from './pg-archive.js';
import type { ArchiveSource } from './source.js';

export interface ArchiverLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ArchiverOptions {
  source: ArchiveSource;
  archive: PgAuditArchive;
  locks: LockStore;
  /** Trim archived records older than this (ms). */
  retentionMs: number;
  /** Warn (log) while a chain's oldest unarchived record is older than this (s). */
  lagWarnSeconds: number;
  /** Records per read and insert; default 1000. */
  batchSize?: number;
  /** Pause between passes (ms); default 1000. */
  intervalMs?: number;
  /** A chain's lease (ms); a pass stops copying after half of it; default 10 s. */
  leaseMs?: number;
  /** The newest signed checkpoint of every chain, index = chain (the checkpointer's `newest`). */
  checkpoint?: () => Promise<ReadonlyArray<AuditCheckpoint | undefined>>;
  log?: ArchiverLog;
  now?: () => number;
}

export interface ChainLag {
  chain: number;
  /** Highest archived seq. */
  archivedThrough: number;
  /** Age of the oldest record not yet archived (0 when none). */
  lagSeconds: number;
}

export interface Archiver {
  /** One pass over every chain. */
  runOnce(): Promise<void>;
  /** Passes every `intervalMs` until stop(). */
  start(): void;
  /** Resolves once the pass in flight, if any, has ended. */
  stop(): Promise<void>;
  /** Lag per chain as of the last pass (readiness detail and metric). */
  lag(): ChainLag[];
}

const WARN_EVERY_MS = 60_000;
const MAX_PENDING_ANCHORS = 16;

export function createArchiver(opts: ArchiverOptions): Archiver {
  const { source, archive, locks } = opts;
  const batchSize = opts.batchSize ?? 1000;
  const intervalMs = opts.intervalMs ?? 1000;
  const leaseMs = opts.leaseMs ?? 10_000;
  const now = opts.now ?? Date.now;
  const log = opts.log ?? { warn: () => {}, error: () => {} };
  const lags = new Map<number, ChainLag>();
  const warnedAt = new Map<number, number>();
  /** Per chain, checkpoints seen ahead of the archive, oldest first, stored once it holds their seq. */
  const pending = new Map<number, AuditCheckpoint[]>();
  const anchoredSeq = new Map<number, number>();

  async function copy(chain: number, from: number): Promise<number> {
    let through = from;
    const deadline = performance.now() + leaseMs / 2;
    for (;;) {
      const entries = await source.range(chain, through + 1, batchSize);
      const first = entries[0];
      if (first === undefined) return through;
      // Never skip: a record the live store no longer holds and the archive never got is a gap for
      // verify to report, not one to paper over.
      if (first.seq !== through + 1 || entries.some((e) => e.time === '')) {
        log.error({ chain, archivedThrough: through, next: first.seq }, 'audit archive: the live chain does not continue the archive');
        return through;
      }
      await archive.insert(entries);
      through = entries.at(-1)?.seq ?? through;
      if (entries.length < batchSize || performance.now() > deadline) return through;
    }
  }

  async function anchor(chain: number, through: number): Promise<void> {
    if (opts.checkpoint === undefined) return;
    const cp = (await opts.checkpoint())[chain];
    let queue = pending.get(chain) ?? [];
    const latest = queue[queue.length - 1]?.seq ?? anchoredSeq.get(chain) ?? 0;
    if (cp !== undefined && cp.chain === chain && cp.seq > latest) queue.push(cp);
    if (queue.length > MAX_PENDING_ANCHORS) queue.shift();
    const held = queue.filter((p) => p.seq <= through).pop();
    pending.set(chain, queue);
    if (held === undefined) return;
    await archive.saveCheckpoint(chain, held);
    anchoredSeq.set(chain, held.seq);
    queue = queue.filter((p) => p.seq > through);
    pending.set(chain, queue);
  }

  async function trim(chain: number, through: number): Promise<void> {
    // Only what the archive holds (seq <= through, read from it in this pass) and is past the window.
    if (through > 0) await source.trimArchived(chain, through, now() - opts.retentionMs);
  }

  async function measure(chain: number, through: number): Promise<void> {
    const [next] = await source.range(chain, through + 1, 1);
    const age = next === undefined || next.time === '' ? 0 : Math.max(0, (now() - Date.parse(next.time)) / 1000);
    lags.set(chain, { chain, archivedThrough: through, lagSeconds: age });
    if (age <= opts.lagWarnSeconds) {
      warnedAt.delete(chain);
      return;
    }
    const last = warnedAt.get(chain);
    if (last !== undefined && now() - last < WARN_EVERY_MS) return;
    warnedAt.set(chain, now());
    log.warn({ chain, lagSeconds: Math.round(age), archivedThrough: through }, 'audit archive lag above audit.archive.postgres.lagWarnSeconds');
  }

  async function passChain(chain: number): Promise<void> {
    const owner = await locks.acquire(`audit-archive:${chain}`, leaseMs);
    if (owner === null) {
      await measure(chain, await archive.archivedThrough(chain));
      return;
    }
    try {
      const through = await copy(chain, await archive.archivedThrough(chain));
      await anchor(chain, through);
      await trim(chain, through);
      await measure(chain, through);
    } finally {
      await locks.release(`audit-archive:${chain}`, owner).catch(() => {});
    }
  }

  async function runOnce(): Promise<void> {
    const t = now();
    await archive.ensurePartitions([monthOf(t), monthOf(Date.UTC(new Date(t).getUTCFullYear(), new Date(t).getUTCMonth() + 1, 1))]);
    for (const chain of source.chains()) await passChain(chain);
  }

  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  let stopped = true;
  const loop = (): void => {
    inFlight = runOnce()
      .catch((err: unknown) => log.error({ err: { type: err instanceof Error ? err.name : 'unknown' } }, 'audit archive pass failed'))
      .finally(() => {
        inFlight = undefined;
        if (!stopped) timer = setTimeout(loop, intervalMs);
      });
  };

  return {
    runOnce,
    start() {
      if (!stopped) return;
      stopped = false;
      loop();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
    },
    lag: () => [...lags.values()],
  };
}
