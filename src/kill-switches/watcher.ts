/**
 * Makes every replica follow the global kill switch with its keys: sealed
 * while engaged, unsealed once released. It reads nothing from the store
 * itself: it follows the enforcement cache (kill-switches/cache.ts), which
 * already learns of every change from pub/sub, its epoch poll and each
 * exchange's own epoch read, so one poller per process serves both.
 */
import type { KeyCustodian } from '../crypto/key-custodian.js';
import type { KillSwitchCache } from './cache.js';

export interface GlobalKillWatcherOptions {
  cache: Pick<KillSwitchCache, 'onConfirmed'>;
  custodian: Pick<KeyCustodian, 'onGlobalKill'>;
  /** Sealing or unsealing failed; it is tried again at the cache's next confirmed read. */
  onError?: (err: unknown) => void;
}

export class GlobalKillWatcher {
  /** The epoch whose global switch the keys follow; -1 before the first. */
  #applied = -1;
  #wantedEpoch = -1;
  #wantedEngaged = false;
  #applying: Promise<void> | undefined;
  #off: (() => void) | undefined;

  constructor(private readonly options: GlobalKillWatcherOptions) {}

  /** Follows the cache from now on; resolves once the keys match the snapshot it holds, if it holds one. */
  async start(): Promise<void> {
    this.#off ??= this.options.cache.onConfirmed(this.#follow);
    await this.#applying;
  }

  async stop(): Promise<void> {
    this.#off?.();
    this.#off = undefined;
    await this.#applying;
  }

  readonly #follow = (epoch: number, globalEngaged: boolean): void => {
    this.#wantedEpoch = epoch;
    this.#wantedEngaged = globalEngaged;
    this.#kick();
  };

  /** One change at a time, the latest wins. A failure waits for the next confirmed read. */
  #kick(): void {
    if (this.#applying !== undefined || this.#wantedEpoch === this.#applied) return;
    this.#applying = this.#apply().then((ok) => {
      this.#applying = undefined;
      if (ok) this.#kick();
    });
  }

  async #apply(): Promise<boolean> {
    try {
      while (this.#applied !== this.#wantedEpoch) {
        const epoch = this.#wantedEpoch;
        await this.options.custodian.onGlobalKill(this.#wantedEngaged);
        this.#applied = epoch;
      }
      return true;
    } catch (err) {
      this.options.onError?.(err);
      return false;
    }
  }
}
