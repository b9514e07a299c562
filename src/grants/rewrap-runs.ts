/**
 * Runs the KEK rewrap job (rewrap-job.ts) in bounded batches from the admin
 * API. Between calls its state lives in the store (`adminJobs`), so a run
 * resumes where the last batch stopped, on any replica, and survives
 * restarts. A lock keeps two batches from running at once; a new active KEK
 * starts a fresh run (records moved to the previous new key move again).
 */
import type { Envelope } from '../crypto/envelope.js';
import type { Keyring } from '../crypto/keyring.js';
import type { Stores } from '../store/stores.js';
import { runRewrap, type RewrapFailure } from './rewrap-job.js';

export interface RewrapState {
  activeKeyId: string;
  done: boolean;
  /** Where the next batch resumes; absent when done. */
  cursor?: string;
  scanned: number;
  rewrapped: number;
  alreadyActive: number;
  raced: number;
  /** Records that do not open under their own binding: reported, never rewritten. */
  failed: Array<{ grantId: string; reason: RewrapFailure }>;
  startedAt: string;
  updatedAt: string;
}

export class RewrapBusyError extends Error {
  override name = 'RewrapBusyError';
  readonly code = 'TV_REWRAP_BUSY';
}

const JOB = 'kek-rewrap';
const LOCK = 'admin:kek-rewrap';
const LOCK_TTL_MS = 120_000;

export class RewrapRuns {
  constructor(
    private readonly stores: Pick<Stores, 'grants' | 'tokens' | 'locks' | 'adminJobs'>,
    private readonly envelope: Envelope,
    private readonly keyring: Keyring,
    private readonly now: () => number = Date.now,
  ) {}

  async status(): Promise<RewrapState | null> {
    const json = await this.stores.adminJobs.load(JOB);
    return json === null ? null : (JSON.parse(json) as RewrapState);
  }

  /**
   * One batch of at most `maxPages` pages of `pageSize` grants, continuing the
   * current run unless it is finished, for another key, or `restart` is set.
   */
  async batch(options: { pageSize: number; maxPages: number; restart: boolean }): Promise<RewrapState> {
    const activeKeyId = this.keyring.activeId;
    const owner = await this.stores.locks.acquire(LOCK, LOCK_TTL_MS);
    if (owner === null) throw new RewrapBusyError('a rewrap batch is already running');
    try {
      const previous = await this.status();
      const resume = previous !== null && !previous.done && !options.restart && previous.activeKeyId === activeKeyId ? previous : null;
      const time = new Date(this.now()).toISOString();
      const report = await runRewrap({
        stores: this.stores,
        envelope: this.envelope,
        activeKeyId,
        pageSize: options.pageSize,
        maxPages: options.maxPages,
        ...(resume?.cursor !== undefined && { cursor: resume.cursor }),
      });
      const state: RewrapState = {
        activeKeyId,
        done: report.done,
        ...(report.cursor !== undefined && { cursor: report.cursor }),
        scanned: (resume?.scanned ?? 0) + report.scanned,
        rewrapped: (resume?.rewrapped ?? 0) + report.rewrapped,
        alreadyActive: (resume?.alreadyActive ?? 0) + report.alreadyActive,
        raced: (resume?.raced ?? 0) + report.raced,
        failed: [...(resume?.failed ?? []), ...report.failed],
        startedAt: resume?.startedAt ?? time,
        updatedAt: time,
      };
      await this.stores.adminJobs.save(JOB, JSON.stringify(state));
      return state;
    } finally {
      await this.stores.locks.release(LOCK, owner);
    }
  }
}
