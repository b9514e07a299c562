/**
 * Checkpoints: a MACed `{seq, hash, time}` of a verified chain head, kept
 * OUTSIDE Redis (a file on the replica, the JSON log).
 *
 * Why: the chain MAC stops anyone without the audit key from forging or
 * re-linking entries, but deleting the newest entries leaves a shorter chain
 * that still verifies. A checkpoint remembers "the chain had reached seq N
 * with hash H"; the verifier reports `truncated` when the chain is now shorter
 * than N or its entry N has another hash. Only as strong as where it is kept:
 * a copy in Redis would be rolled back together with the chain, so the
 * checkpoint is written through a sink of the app's choosing (file + log).
 * The MAC (under an HKDF subkey of the audit key) stops a forged checkpoint;
 * an old genuine checkpoint still verifies, so the newest one must be kept.
 *
 * What can still be erased unnoticed is what was written after the newest
 * checkpoint, so the checkpointer bounds that by time: while records are
 * written it signs the head at least every `everyMs` (1 s), on a timer armed
 * by the writer's group commits, never on the request path; when nothing is
 * written no timer runs and nothing is signed.
 *
 * A checkpointer also refuses to sign a head that went backwards from its
 * last checkpoint or whose entry does not verify, and reports that instead.
 */
import { createHmac, randomUUID, type KeyObject } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { AuditHead, AuditStore } from '../store/audit-store.js';
import { entryVerifies, sameHash } from './chain.js';
import { AuditTamperError, InvalidCheckpointError } from './errors.js';
import { deriveAuditKeys, type AuditKeys } from './keys.js';

export interface AuditCheckpoint {
  seq: number;
  hash: string;
  /** ISO 8601 time the checkpoint was signed. */
  time: string;
  /** base64url HMAC-SHA-256 of `tv-audit-checkpoint-v1\n<seq>\n<hash>\n<time>` under the checkpoint subkey. */
  mac: string;
}

/** Where checkpoints go; resolves once stored. */
export type CheckpointSink = (checkpoint: AuditCheckpoint) => void | Promise<void>;

function checkpointMac(key: KeyObject, seq: number, hash: string, time: string): string {
  return createHmac('sha256', key).update(`tv-audit-checkpoint-v1\n${seq}\n${hash}\n${time}`).digest('base64url');
}

export function signCheckpoint(hmacKey: Uint8Array | AuditKeys, head: AuditHead, time: string): AuditCheckpoint {
  const keys = hmacKey instanceof Uint8Array ? deriveAuditKeys(hmacKey) : hmacKey;
  return { seq: head.seq, hash: head.hash, time, mac: checkpointMac(keys.checkpoint, head.seq, head.hash, time) };
}

/** Parses and authenticates a checkpoint (e.g. from a file or a log line); throws InvalidCheckpointError. */
export function verifyCheckpoint(hmacKey: Uint8Array | AuditKeys, value: unknown): AuditCheckpoint {
  const keys = hmacKey instanceof Uint8Array ? deriveAuditKeys(hmacKey) : hmacKey;
  const cp = value as Partial<Record<keyof AuditCheckpoint, unknown>> | null;
  if (
    typeof cp !== 'object' ||
    cp === null ||
    typeof cp.seq !== 'number' ||
    !Number.isSafeInteger(cp.seq) ||
    cp.seq < 1 ||
    typeof cp.hash !== 'string' ||
    typeof cp.time !== 'string' ||
    typeof cp.mac !== 'string'
  ) {
    throw new InvalidCheckpointError('audit checkpoint is malformed');
  }
  if (!sameHash(cp.mac, checkpointMac(keys.checkpoint, cp.seq, cp.hash, cp.time))) {
    throw new InvalidCheckpointError('audit checkpoint MAC does not verify');
  }
  return { seq: cp.seq, hash: cp.hash, time: cp.time, mac: cp.mac };
}

export interface CheckpointerOptions {
  store: AuditStore;
  hmacKey: Uint8Array;
  sink: CheckpointSink;
  /** Checkpoint after this many records were observed; default 1000. */
  everyRecords?: number;
  /** And at least this often while records are written (none while idle); default 1 s. 0 disables the timer. */
  everyMs?: number;
  /**
   * Reads back what the sink stored (readCheckpointFile): replicas sharing one checkpoint file each
   * sign their own writes, so the newest checkpoint may be another replica's (`newest()`).
   */
  load?: () => Promise<AuditCheckpoint | null>;
  /** The newest checkpoint known at boot (readCheckpointFile), so a rollback across restarts is caught too. */
  initial?: AuditCheckpoint;
  now?: () => number;
  /** Sink failures and AuditTamperError from background checkpoints. */
  onError?: (err: unknown) => void;
}

export interface Checkpointer {
  /** Pass as the writer's `onCommit`: counts records towards `everyRecords` and arms the `everyMs` timer. */
  observe(head: AuditHead, count: number): void;
  /** Sign the current store head now (null while the chain is empty); rejects with AuditTamperError on rollback. */
  checkpointNow(): Promise<AuditCheckpoint | null>;
  latest(): AuditCheckpoint | undefined;
  /** The newer of `latest()` and the one `load` reads back (an unreadable or forged one goes to `onError`). */
  newest(): Promise<AuditCheckpoint | undefined>;
  stop(): void;
}

export function createCheckpointer(opts: CheckpointerOptions): Checkpointer {
  const keys = deriveAuditKeys(opts.hmacKey);
  const now = opts.now ?? Date.now;
  const everyRecords = opts.everyRecords ?? 1000;
  const onError = opts.onError ?? (() => {});
  let last = opts.initial === undefined ? undefined : verifyCheckpoint(keys, opts.initial);
  let sinceLast = 0;

  async function take(): Promise<AuditCheckpoint | null> {
    sinceLast = 0;
    const head = await opts.store.head();
    if (head === null) {
      if (last !== undefined) throw new AuditTamperError('audit chain is empty but was checkpointed');
      return null;
    }
    if (last !== undefined && (head.seq < last.seq || (head.seq === last.seq && !sameHash(head.hash, last.hash)))) {
      throw new AuditTamperError('audit chain head is behind its last checkpoint');
    }
    if (last !== undefined && head.seq === last.seq) return last;
    // Sign only what the key wrote: a head pointing at a forged or missing entry is never vouched for.
    const [entry] = await opts.store.range(head.seq, 1);
    if (entry === undefined || entry.seq !== head.seq || !sameHash(entry.hash, head.hash) || !entryVerifies(keys.chain, entry)) {
      throw new AuditTamperError('audit chain head is not a verified entry');
    }
    const checkpoint = signCheckpoint(keys, head, new Date(now()).toISOString());
    await opts.sink(checkpoint);
    last = checkpoint;
    return checkpoint;
  }

  // Checkpoints run one at a time, in call order: a checkpoint asked for while
  // another is being written is taken afterwards, on the then-current head.
  let tail: Promise<unknown> = Promise.resolve();
  let backgroundQueued = false;
  function checkpointNow(): Promise<AuditCheckpoint | null> {
    const next = tail.then(take, take);
    tail = next.catch(() => {});
    return next;
  }

  const everyMs = opts.everyMs ?? 1000;
  let timer: NodeJS.Timeout | undefined;
  // Scheduling uses the monotonic clock: `now` only stamps checkpoints (and may be a test clock).
  let lastStarted = -Infinity;
  let stopped = false;

  function background(): void {
    if (backgroundQueued) return;
    backgroundQueued = true;
    lastStarted = performance.now();
    checkpointNow()
      .catch(onError)
      .finally(() => {
        backgroundQueued = false;
        // Records committed after this checkpoint read the head are not covered by it yet.
        if (sinceLast > 0) arm();
      });
  }

  // Armed by commits only, so an idle chain costs nothing; due `everyMs` after the previous
  // background checkpoint started, which bounds both the gap between checkpoints and how long
  // a record stays unvouched for.
  function arm(): void {
    if (everyMs === 0 || stopped || timer !== undefined) return;
    const delay = Math.max(0, lastStarted + everyMs - performance.now());
    timer = setTimeout(() => {
      timer = undefined;
      if (sinceLast > 0) background();
    }, delay);
    timer.unref();
  }

  return {
    observe(_head, count) {
      sinceLast += count;
      if (sinceLast >= everyRecords) background();
      arm();
    },
    checkpointNow,
    latest: () => last,
    async newest() {
      let stored: AuditCheckpoint | undefined;
      try {
        const loaded = opts.load === undefined ? null : await opts.load();
        stored = loaded === null ? undefined : verifyCheckpoint(keys, loaded);
      } catch (err) {
        onError(err);
      }
      return stored !== undefined && (last === undefined || stored.seq > last.seq) ? stored : last;
    },
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

/** A sink that replaces `path` atomically (write + rename), owner-only like the key files. */
export function fileCheckpointSink(path: string): CheckpointSink {
  return async (checkpoint) => {
    // A name of its own per write: replicas sharing a checkpoint path must not interleave one temp file.
    const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`;
    await writeFile(tmp, `${JSON.stringify(checkpoint)}\n`, { mode: 0o600 });
    await rename(tmp, path);
  };
}

/** The checkpoint stored at `path`, authenticated; null when there is none yet. */
export async function readCheckpointFile(path: string, hmacKey: Uint8Array): Promise<AuditCheckpoint | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidCheckpointError('audit checkpoint file is not JSON');
  }
  return verifyCheckpoint(hmacKey, parsed);
}
