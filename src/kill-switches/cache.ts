/**
 * Kill-switch enforcement from a snapshot: refreshed by polling the store's
 * epoch (every 250 ms), at once when an announcement arrives (pub/sub, the
 * fast path), and before any decision when an exchange's own epoch read
 * (`confirmCurrent`, in the request's round trip) shows it is behind. So a
 * switch engaged on any replica is enforced here within 1 s even when pub/sub
 * loses the announcement. When the snapshot cannot be confirmed for longer
 * than 1 s (Redis down), every check fails closed.
 *
 * It is the one reader of the switches in a process: whatever else follows
 * them (the global switch's key sealing, kill-switches/watcher.ts) listens to
 * its confirmed reads instead of polling Redis on its own.
 */
import { AccessDenied, TemporarilyUnavailable } from '../errors.js';
import type { KillScope, KillSwitchEvents, KillSwitchStore } from '../store/kill-switch-store.js';

export type KillSwitchSubjects = Partial<Record<Exclude<KillScope, 'global'>, string>>;

/** Told of a confirmed snapshot: its epoch, and whether the global switch is engaged in it. */
export type KillSwitchListener = (epoch: number, globalEngaged: boolean) => void;

const GLOBAL = 'global:*';

export interface KillSwitchCacheOptions {
  pollMs?: number;
  /** Older than this, the snapshot is not trusted (every replica within 1 s: docs/architecture.md#kill-switches). */
  maxStalenessMs?: number;
  now?: () => number;
  /** Epoch announcements (pub/sub): each one is read at once instead of at the next poll. */
  events?: KillSwitchEvents;
  /** Subscribing failed (the poll still holds the 1 s bound). */
  onError?: (err: unknown) => void;
}

export class KillSwitchCache {
  #engaged = new Set<string>();
  #epoch = -1;
  #confirmedAt = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #unsubscribe: (() => Promise<void>) | undefined;
  /** The read in flight (or done), and the one queued behind it, if any. */
  #tail: Promise<void> = Promise.resolve();
  #queued: Promise<void> | undefined;
  readonly #listeners = new Set<KillSwitchListener>();
  readonly #pollMs: number;
  readonly #maxStalenessMs: number;
  readonly #now: () => number;

  constructor(
    private readonly store: KillSwitchStore,
    private readonly options: KillSwitchCacheOptions = {},
  ) {
    this.#pollMs = options.pollMs ?? 250;
    this.#maxStalenessMs = options.maxStalenessMs ?? 1_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** First sync (errors tolerated: checks fail closed until one succeeds), then poll and listen. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.sync();
    this.#schedule();
    const { events, onError = () => {} } = this.options;
    // Not awaited: with Redis down at boot the subscription comes later; the poll covers until then.
    const onAnnouncement = (epoch: number) => {
      if (epoch !== this.#epoch) void this.sync();
    };
    events?.subscribe(onAnnouncement).then((off) => {
      if (this.#stopped) void off();
      else this.#unsubscribe = off;
    }, onError);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    void this.#unsubscribe?.();
  }

  /**
   * One poll: cheap epoch read, full snapshot only when the epoch moved. Never throws.
   * Concurrent calls (poll and announcements) share one queued read behind the one in
   * flight, so a newer snapshot is never overwritten by an older one.
   */
  sync(): Promise<void> {
    this.#queued ??= this.#tail.then(() => {
      this.#queued = undefined;
      return this.#read();
    });
    this.#tail = this.#queued;
    return this.#queued;
  }

  async #read(): Promise<void> {
    const startedAt = this.#now();
    try {
      const epoch = await this.store.epoch();
      if (epoch !== this.#epoch) {
        const snapshot = await this.store.snapshot();
        this.#engaged = new Set(snapshot.switches.map((s) => `${s.scope}:${s.target}`));
        this.#epoch = snapshot.epoch;
      }
      // Confirmed as of when the read started, not when it finished.
      if (startedAt > this.#confirmedAt) this.#confirmedAt = startedAt;
      this.#notify();
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
   * Resolves to when this request's read started, for assertOpen.
   */
  async confirmCurrent(): Promise<number> {
    const readAt = this.#now();
    const epoch = await this.store.epoch();
    if (epoch === this.#epoch) {
      if (readAt > this.#confirmedAt) this.#confirmedAt = readAt;
      return readAt;
    }
    // Queued behind any read already in flight, so it starts after this epoch was read; it
    // also reloads when the epoch went backwards (a Redis that lost its last change).
    await this.sync();
    // Not confirmed by a read that started after ours: fail closed rather than trust the old snapshot.
    if (this.#confirmedAt < readAt || this.#epoch < epoch) throw new TemporarilyUnavailable('kill-switch snapshot could not be refreshed');
    return readAt;
  }

  /**
   * Calls `listener` after every confirmed read (each poll, announcement and
   * refresh, whether or not the epoch moved, so a listener that failed to act
   * can retry), and at once if a snapshot is already confirmed. Returns the
   * unsubscribe.
   */
  onConfirmed(listener: KillSwitchListener): () => void {
    this.#listeners.add(listener);
    if (this.#confirmedAt !== -Infinity) listener(this.#epoch, this.#engaged.has(GLOBAL));
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #notify(): void {
    if (this.#listeners.size === 0) return;
    const globalEngaged = this.#engaged.has(GLOBAL);
    for (const listener of this.#listeners) listener(this.#epoch, globalEngaged);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.sync().finally(() => this.#schedule());
    }, this.#pollMs);
    this.#timer.unref();
  }

  /** Milliseconds since the snapshot was last confirmed (Infinity before the first), for metrics. */
  snapshotAgeMs(): number {
    return this.#now() - this.#confirmedAt;
  }

  /**
   * Throws `access_denied` when any switch covers these subjects, 503 when the snapshot is stale.
   * `confirmedAt`: what the request's own confirmCurrent() resolved to. The snapshot is then at least
   * as new as a read this request made, which is what the guarantee needs; judging it by the clock
   * instead would refuse requests of a process that took over `maxStalenessMs` between the read
   * and the decision only because it was busy.
   */
  assertOpen(subjects: KillSwitchSubjects, confirmedAt?: number): void {
    const stale = confirmedAt !== undefined ? this.#confirmedAt < confirmedAt : this.#now() - this.#confirmedAt > this.#maxStalenessMs;
    if (stale) {
      throw new TemporarilyUnavailable('kill-switch snapshot stale (store unreachable)');
    }
    if (this.#engaged.size === 0) return;
    if (this.#engaged.has(GLOBAL)) throw new AccessDenied('kill switch: global');
    for (const scope of ['gateway', 'agent', 'user', 'provider', 'grant'] as const) {
      const target = subjects[scope];
      if (target !== undefined && this.#engaged.has(`${scope}:${target}`)) throw new AccessDenied(`kill switch: ${scope}`);
    }
  }
}
