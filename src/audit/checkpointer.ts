/**
 * When checkpoints (checkpoint.ts) are signed: for every chain, bounded by time.
 *
 * What can still be erased unnoticed is what was written after a chain's
 * newest checkpoint, so while records are written to a chain its head is
 * signed at least every `everyMs` (1 s), on one timer armed by the writer's
 * group commits, never on the request path; a chain nothing was written to is
 * not read or signed, and with no writes at all no timer runs. All chains due
 * are signed in one pass and stored in one sink write.
 *
 * A checkpointer refuses to sign a head that went backwards from its chain's
 * last checkpoint or whose entry does not verify, and reports that instead.
 */
import type { AuditHead, AuditStore } from '../store/audit-store.js';
import { entryVerifies, sameHash } from './chain.js';
import { newerCheckpoints, signCheckpoint, verifyCheckpoint, type AuditCheckpoint, type CheckpointSink } from './checkpoint.js';
import { AuditTamperError } from './errors.js';
import { deriveAuditKeys } from './keys.js';

export interface CheckpointerOptions {
  store: AuditStore;
  hmacKey: Uint8Array;
  sink: CheckpointSink;
  /** Checkpoint a chain after this many records were observed on it; default 1000. */
  everyRecords?: number;
  /** And at least this often while records are written (none while idle); default 1 s. 0 disables the timer. */
  everyMs?: number;
  /**
   * Reads back what the sink stored (readCheckpointFile): replicas sharing one checkpoint file each
   * sign their own writes, so the newest checkpoint of a chain may be another replica's (`newest()`).
   */
  load?: () => Promise<AuditCheckpoint[] | null>;
  /** The newest checkpoints known at boot (readCheckpointFile), so a rollback across restarts is caught too. */
  initial?: readonly AuditCheckpoint[];
  now?: () => number;
  /** Sink failures and AuditTamperError from background checkpoints. */
  onError?: (err: unknown) => void;
}

export interface Checkpointer {
  /** Pass as the writer's `onCommit`: counts records towards `everyRecords` and arms the `everyMs` timer. */
  observe(chain: number, head: AuditHead, count: number): void;
  /**
   * Sign the current head of `chains` (default: every chain) now, and store the newest checkpoint
   * of every chain; resolves to them (one per non-empty chain). Rejects with AuditTamperError
   * (naming the first chain) on a rollback, after storing the chains that were fine.
   */
  checkpointNow(chains?: readonly number[]): Promise<AuditCheckpoint[]>;
  /** The newest checkpoint this checkpointer knows per chain, index = chain. */
  latest(): Array<AuditCheckpoint | undefined>;
  /** Per chain, the newer of `latest()` and what `load` reads back (an unreadable or forged file goes to `onError`). */
  newest(): Promise<Array<AuditCheckpoint | undefined>>;
  /**
   * No timer and no background pass from now on; the chains with unvouched records are signed one
   * last time (a failure goes to `onError`). Resolves once every pass has written, so nothing
   * writes the checkpoint file after shutdown.
   */
  stop(): Promise<void>;
}

export function createCheckpointer(opts: CheckpointerOptions): Checkpointer {
  const { store } = opts;
  const keys = deriveAuditKeys(opts.hmacKey);
  const now = opts.now ?? Date.now;
  const everyRecords = opts.everyRecords ?? 1000;
  const onError = opts.onError ?? (() => {});
  const last: Array<AuditCheckpoint | undefined> = new Array<AuditCheckpoint | undefined>(store.chains).fill(undefined);
  for (const cp of opts.initial ?? []) {
    const checked = verifyCheckpoint(keys, cp);
    if (checked.chain < store.chains) last[checked.chain] = checked;
  }
  const sinceLast = new Array<number>(store.chains).fill(0);
  // The newest head each chain's commits reported: a pass that signed it leaves nothing due.
  const observedSeq = new Array<number>(store.chains).fill(0);

  /** Signs one chain's head: the new checkpoint, the last one when the head has not moved, null while empty. */
  async function take(chain: number, head: AuditHead | null): Promise<AuditCheckpoint | null> {
    const prior = last[chain];
    if (head === null) {
      if (prior !== undefined) throw new AuditTamperError('audit chain is empty but was checkpointed', chain);
      return null;
    }
    if (prior !== undefined && (head.seq < prior.seq || (head.seq === prior.seq && !sameHash(head.hash, prior.hash)))) {
      throw new AuditTamperError('audit chain head is behind its last checkpoint', chain);
    }
    if (prior !== undefined && head.seq === prior.seq) return prior;
    // Sign only what the key wrote: a head pointing at a forged or missing entry is never vouched for.
    const [entry] = await store.range(chain, head.seq, 1);
    if (entry === undefined || entry.seq !== head.seq || !sameHash(entry.hash, head.hash) || !entryVerifies(keys.chain, entry)) {
      throw new AuditTamperError('audit chain head is not a verified entry', chain);
    }
    const checkpoint = signCheckpoint(keys, chain, head, new Date(now()).toISOString());
    last[chain] = checkpoint;
    return checkpoint;
  }

  async function pass(chains: readonly number[]): Promise<AuditCheckpoint[]> {
    for (const c of chains) sinceLast[c] = 0;
    const all = chains.length === store.chains;
    const heads = all ? await store.heads() : await Promise.all(chains.map((c) => store.head(c)));
    const before = [...last];
    const results = await Promise.allSettled(chains.map((c, i) => take(c, (all ? heads[c] : heads[i]) ?? null)));
    // A record committed after the counts were reset but before the heads were read is signed
    // already: it must not call for another pass (nor another read of the heads) once idle.
    for (const c of chains) if ((last[c]?.seq ?? 0) >= observedSeq[c]!) sinceLast[c] = 0;
    const known = last.filter((cp): cp is AuditCheckpoint => cp !== undefined);
    if (chains.some((c) => last[c] !== before[c])) await opts.sink(known);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return known;
  }

  const allChains = Array.from({ length: store.chains }, (_, c) => c);
  // Passes run one at a time, in call order: one asked for while another is being written is
  // taken afterwards, on the then-current heads.
  let tail: Promise<unknown> = Promise.resolve();
  function checkpointNow(chains: readonly number[] = allChains): Promise<AuditCheckpoint[]> {
    const run = () => pass(chains);
    const next = tail.then(run, run);
    tail = next.catch(() => {});
    return next;
  }

  const everyMs = opts.everyMs ?? 1000;
  let timer: NodeJS.Timeout | undefined;
  let backgroundQueued = false;
  // Scheduling uses the monotonic clock: `now` only stamps checkpoints (and may be a test clock).
  let lastStarted = -Infinity;
  let stopped = false;
  const due = () => allChains.filter((c) => sinceLast[c]! > 0);

  function background(): void {
    if (backgroundQueued || stopped) return;
    backgroundQueued = true;
    lastStarted = performance.now();
    checkpointNow(due())
      .catch(onError)
      .finally(() => {
        backgroundQueued = false;
        // Records committed after this pass read the heads are not covered by it yet.
        if (due().length > 0) arm();
      });
  }

  // Armed by commits only, so an idle trail costs nothing; due `everyMs` after the previous
  // background pass started, which bounds both the gap between checkpoints and how long a record
  // stays unvouched for.
  function arm(): void {
    if (everyMs === 0 || stopped || timer !== undefined) return;
    const delay = Math.max(0, lastStarted + everyMs - performance.now());
    timer = setTimeout(() => {
      timer = undefined;
      if (due().length > 0) background();
    }, delay);
    timer.unref();
  }

  return {
    observe(chain, head, count) {
      sinceLast[chain] = (sinceLast[chain] ?? 0) + count;
      if (head.seq > observedSeq[chain]!) observedSeq[chain] = head.seq;
      if (sinceLast[chain]! >= everyRecords) background();
      arm();
    },
    checkpointNow,
    latest: () => [...last],
    async newest() {
      let stored: AuditCheckpoint[] = [];
      try {
        stored = (await opts.load?.()) ?? [];
      } catch (err) {
        onError(err);
      }
      const merged = newerCheckpoints(
        last.filter((cp): cp is AuditCheckpoint => cp !== undefined),
        stored,
      );
      const out = new Array<AuditCheckpoint | undefined>(store.chains).fill(undefined);
      for (const cp of merged) if (cp.chain < store.chains) out[cp.chain] = cp;
      return out;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      const unvouched = due();
      if (unvouched.length > 0) await checkpointNow(unvouched).catch(onError);
      await tail;
    },
  };
}
