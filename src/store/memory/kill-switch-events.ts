import type { KillSwitchEvents } from '../kill-switch-store.js';

/** In-process KillSwitchEvents: listeners of this store object only (one replica). */
export class MemoryKillSwitchEvents implements KillSwitchEvents {
  readonly #listeners = new Set<(epoch: number) => void>();

  async publish(epoch: number): Promise<void> {
    // Delivered asynchronously, like a real pub/sub message.
    for (const l of this.#listeners) queueMicrotask(() => l(epoch));
  }

  async subscribe(listener: (epoch: number) => void): Promise<() => Promise<void>> {
    this.#listeners.add(listener);
    return async () => {
      this.#listeners.delete(listener);
    };
  }
}
