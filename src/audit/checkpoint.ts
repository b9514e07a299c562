/**
 * Checkpoints: a MACed `{chain, seq, hash, time}` of a verified chain head,
 * kept OUTSIDE Redis (a file on the replica, the JSON log). One per chain.
 *
 * Why: the chain MAC stops anyone without the audit key from forging or
 * re-linking entries, but deleting the newest entries leaves a shorter chain
 * that still verifies. A checkpoint remembers "chain c had reached seq N with
 * hash H"; the verifier reports `truncated` when the chain is now shorter than
 * N or its entry N has another hash. Only as strong as where it is kept: a
 * copy in Redis would be rolled back together with the chain, so checkpoints
 * are written through a sink of the app's choosing (file + log). The MAC
 * (under an HKDF subkey of the audit key) binds the chain index too, so one
 * chain's checkpoint cannot stand in for another's; an old genuine checkpoint
 * still verifies, so the newest one per chain must be kept.
 *
 * When they are signed: checkpointer.ts.
 */
import { createHmac, randomUUID, type KeyObject } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { AuditHead } from '../store/audit-store.js';
import { sameHash } from './chain.js';
import { InvalidCheckpointError } from './errors.js';
import { deriveAuditKeys, type AuditKeys } from './keys.js';

export interface AuditCheckpoint {
  chain: number;
  seq: number;
  hash: string;
  /** ISO 8601 time the checkpoint was signed. */
  time: string;
  /** base64url HMAC-SHA-256 of `tv-audit-checkpoint-v2\n<chain>\n<seq>\n<hash>\n<time>` under the checkpoint subkey. */
  mac: string;
}

/** Where checkpoints go: the newest one of every chain checkpointed so far; resolves once stored. */
export type CheckpointSink = (checkpoints: AuditCheckpoint[]) => void | Promise<void>;

function checkpointMac(key: KeyObject, chain: number, seq: number, hash: string, time: string): string {
  return createHmac('sha256', key).update(`tv-audit-checkpoint-v2\n${chain}\n${seq}\n${hash}\n${time}`).digest('base64url');
}

const keysOf = (hmacKey: Uint8Array | AuditKeys): AuditKeys => (hmacKey instanceof Uint8Array ? deriveAuditKeys(hmacKey) : hmacKey);

export function signCheckpoint(hmacKey: Uint8Array | AuditKeys, chain: number, head: AuditHead, time: string): AuditCheckpoint {
  const keys = keysOf(hmacKey);
  return { chain, seq: head.seq, hash: head.hash, time, mac: checkpointMac(keys.checkpoint, chain, head.seq, head.hash, time) };
}

const isIndex = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= min;

/** Parses and authenticates a checkpoint (e.g. from a file or a log line); throws InvalidCheckpointError. */
export function verifyCheckpoint(hmacKey: Uint8Array | AuditKeys, value: unknown): AuditCheckpoint {
  const keys = keysOf(hmacKey);
  const cp = value as Partial<Record<keyof AuditCheckpoint, unknown>> | null;
  if (
    typeof cp !== 'object' ||
    cp === null ||
    !isIndex(cp.chain, 0) ||
    !isIndex(cp.seq, 1) ||
    typeof cp.hash !== 'string' ||
    typeof cp.time !== 'string' ||
    typeof cp.mac !== 'string'
  ) {
    throw new InvalidCheckpointError('audit checkpoint is malformed');
  }
  if (!sameHash(cp.mac, checkpointMac(keys.checkpoint, cp.chain, cp.seq, cp.hash, cp.time))) {
    throw new InvalidCheckpointError('audit checkpoint MAC does not verify');
  }
  return { chain: cp.chain, seq: cp.seq, hash: cp.hash, time: cp.time, mac: cp.mac };
}

/** Per chain, the checkpoint further along (higher seq; `a` on a tie). */
export function newerCheckpoints(a: readonly AuditCheckpoint[], b: readonly AuditCheckpoint[]): AuditCheckpoint[] {
  const out = new Map<number, AuditCheckpoint>();
  for (const cp of [...a, ...b]) {
    const known = out.get(cp.chain);
    if (known === undefined || cp.seq > known.seq) out.set(cp.chain, cp);
  }
  return [...out.values()].sort((x, y) => x.chain - y.chain);
}

/**
 * A sink that replaces `path` atomically (write + rename), owner-only like the key files. The
 * file holds `{"checkpoints": [...]}`, one per chain; replicas sharing the path each sign their
 * own writes, so what is already there is merged in (per chain, the newer one stays).
 */
export function fileCheckpointSink(path: string, hmacKey: Uint8Array): CheckpointSink {
  const keys = deriveAuditKeys(hmacKey);
  return async (checkpoints) => {
    let stored: AuditCheckpoint[] = [];
    try {
      stored = (await readCheckpointFile(path, keys)) ?? [];
    } catch {
      // Unreadable or forged: replaced by what this replica can vouch for (boot reports a bad file).
    }
    const merged = newerCheckpoints(checkpoints, stored);
    // A name of its own per write: replicas sharing a checkpoint path must not interleave one temp file.
    const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`;
    await writeFile(tmp, `${JSON.stringify({ checkpoints: merged })}\n`, { mode: 0o600 });
    await rename(tmp, path);
  };
}

/** The checkpoints stored at `path`, authenticated, one per chain; null when there is no file yet. */
export async function readCheckpointFile(path: string, hmacKey: Uint8Array | AuditKeys): Promise<AuditCheckpoint[] | null> {
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
  const list = (parsed as { checkpoints?: unknown } | null)?.checkpoints;
  if (!Array.isArray(list)) throw new InvalidCheckpointError('audit checkpoint file is malformed');
  const keys = keysOf(hmacKey);
  const out = list.map((cp) => verifyCheckpoint(keys, cp));
  if (new Set(out.map((cp) => cp.chain)).size !== out.length) throw new InvalidCheckpointError('audit checkpoint file is malformed');
  return out;
}
