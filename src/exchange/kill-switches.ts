/**
 * Kill-switch enforcement without a Redis round trip per request: a snapshot
 * refreshed by polling the store's epoch (every 250 ms), so a switch engaged
 * on any replica is enforced here within 1 s. When the snapshot cannot be
 * confirmed for longer than that (Redis down), every check fails closed.
 */
import { AccessDenied, TemporarilyUnavailable } from '../errors.js';
import type { KillScope, KillSwitchStore } from '../store/types.js';

export type KillSwitchSubjects = Partial<Record<Exclude<KillScope, 'global'>, string>>;

export interface KillSwitchCacheOptions {
  pollMs?: number;
  /** Older than this, the snapshot is not trusted (DESIGN: every replica within 1 s). */
  maxStalenessMs?: number;
  now?: () => number;
}

export class KillSwitchCache {
  #engaged = new Set<string>();
  #epoch = -1;
  #confirmedAt = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #catchingUp: Promise<void> | undefined;
  readonly #pollMs: number;
  readonly #maxStalenessMs: number;
  readonly #now: () => number;

  constructor(
    private readonly store: KillSwitchStore,
    options: KillSwitchCacheOptions = {},
  ) {
    this.#pollMs = options.pollMs ?? 250;
    this.#maxStalenessMs = options.maxStalenessMs ?? 1_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** First sync (errors tolerated: checks fail closed until one succeeds), then poll. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.sync();
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** One poll: cheap epoch read, full snapshot only when the epoch moved. Never throws. */
  async sync(): Promise<void> {
    const startedAt = this.#now();
    try {
      const epoch = await this.store.epoch();
      if (epoch !== this.#epoch) {
        const snapshot = await this.store.snapshot();
        this.#engaged = new Set(snapshot.switches.map((s) => `${s.scope}:${s.target}`));
        this.#epoch = snapshot.epoch;
      }
      // Confirmed as of when the read started, not when it finished.
      this.#confirmedAt = startedAt;
    } catch {
      // Stale until the next successful poll; checks fail closed after maxStalenessMs.
    }
  }

  /**
   * The exchange's per-request check: reads the store's epoch (issued at once, so
   * it shares the request's Redis round trip) and, when the snapshot is behind,
   * refreshes it before any decision. A switch made durable before this read is
   * therefore enforced on this request whatever happened to pub/sub or the poll:
   * after the admin API answers, no exchange sent later is issued on any replica.
   * Concurrent requests that see the same new epoch share one snapshot read.
   */
  async confirmCurrent(): Promise<void> {
    const readAt = this.#now();
    const epoch = await this.store.epoch();
    if (epoch === this.#epoch) {
      if (readAt > this.#confirmedAt) this.#confirmedAt = readAt;
      return;
    }
    this.#catchingUp ??= this.sync().finally(() => (this.#catchingUp = undefined));
    await this.#catchingUp;
    // An epoch that went backwards (a Redis reset) is not "behind": the poll resyncs it.
    if (this.#epoch < epoch) throw new TemporarilyUnavailable('kill-switch snapshot could not be refreshed');
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.sync().finally(() => this.#schedule());
    }, this.#pollMs);
    this.#timer.unref();
  }

  /** Throws `access_denied` when any switch covers these subjects, 503 when the snapshot is stale. */
  assertOpen(subjects: KillSwitchSubjects): void {
    if (this.#now() - this.#confirmedAt > this.#maxStalenessMs) {
      throw new TemporarilyUnavailable('kill-switch snapshot stale (store unreachable)');
    }
    if (this.#engaged.size === 0) return;
    if (this.#engaged.has('global:*')) throw new AccessDenied('kill switch: global');
    for (const scope of ['gateway', 'agent', 'user', 'provider', 'grant'] as const) {
      const target = subjects[scope];
      if (target !== undefined && this.#engaged.has(`${scope}:${target}`)) throw new AccessDenied(`kill switch: ${scope}`);
    }
  }
}
