import type { KillScope, KillSwitch, KillSwitchSnapshot, KillSwitchStore } from '../kill-switch-store.js';

/**
 * In-memory KillSwitchStore; one switch per (scope, target), epoch bumped on every change to
 * above the current one and at least the clock in ms (as the Redis store does).
 */
export class MemoryKillSwitchStore implements KillSwitchStore {
  readonly #switches = new Map<string, KillSwitch>();
  #epoch = 0;

  async engage(sw: KillSwitch): Promise<number> {
    this.#switches.set(switchKey(sw.scope, sw.target), { ...sw });
    return this.#bump();
  }

  async release(scope: KillScope, target: string): Promise<number> {
    if (this.#switches.delete(switchKey(scope, target))) this.#bump();
    return this.#epoch;
  }

  async epoch(): Promise<number> {
    return this.#epoch;
  }

  #bump(): number {
    this.#epoch = Math.max(this.#epoch + 1, Date.now());
    return this.#epoch;
  }

  async snapshot(): Promise<KillSwitchSnapshot> {
    return { epoch: this.#epoch, switches: [...this.#switches.values()].map((sw) => ({ ...sw })) };
  }
}

function switchKey(scope: KillScope, target: string): string {
  return `${scope}:${target}`;
}
