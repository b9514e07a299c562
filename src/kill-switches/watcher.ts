/**
 * Makes every replica follow the global kill switch with its keys: sealed
 * while engaged, unsealed once released. Learns of changes from pub/sub
 * (fast path) and from polling the epoch (the guarantee when messages are
 * lost), reading the full snapshot only when the epoch moved.
 *
 * The exchange path's enforcement cache (kill-switches/cache.ts) follows
 * the same epoch and the same announcements (one subscriber connection per
 * process); it could call `KeyCustodian.onGlobalKill` itself and make this
 * watcher redundant.
 */
import type { Stores } from '../store/stores.js';
import type { KeyCustodian } from '../crypto/key-custodian.js';

export interface GlobalKillWatcherOptions {
  stores: Pick<Stores, 'killSwitches' | 'killSwitchEvents'>;
  custodian: KeyCustodian;
  pollMs?: number;
  onError?: (err: unknown) => void;
}

export class GlobalKillWatcher {
  #epoch = -1;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => Promise<void>) | undefined;
  #syncing: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(private readonly options: GlobalKillWatcherOptions) {}

  async start(): Promise<void> {
    const { stores, pollMs = 500, onError = () => {} } = this.options;
    await this.sync();
    // Not awaited: with Redis down at boot the subscription comes later, the poll covers until then.
    stores.killSwitchEvents
      .subscribe(() => void this.sync())
      .then((off) => {
        if (this.#stopped) void off();
        else this.#unsubscribe = off;
      }, onError);
    this.#timer = setInterval(() => void this.sync(), pollMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#unsubscribe?.();
  }

  /** One check; concurrent calls coalesce into at most one more. Never throws. */
  sync(): Promise<void> {
    if (this.#syncing) {
      this.#again = true;
      return this.#syncing;
    }
    this.#syncing = this.#check().finally(() => {
      this.#syncing = undefined;
      if (this.#again) {
        this.#again = false;
        void this.sync();
      }
    });
    return this.#syncing;
  }

  async #check(): Promise<void> {
    const { stores, custodian, onError = () => {} } = this.options;
    try {
      const epoch = await stores.killSwitches.epoch();
      if (epoch === this.#epoch) return;
      const snapshot = await stores.killSwitches.snapshot();
      await custodian.onGlobalKill(snapshot.switches.some((sw) => sw.scope === 'global'));
      this.#epoch = snapshot.epoch;
    } catch (err) {
      onError(err);
    }
  }
}
