/**
 * Engaging and releasing kill switches (docs/architecture.md#kill-switches): durable first, then the
 * local side effects, then the fast-path announcement.
 *
 * Order matters: `engage` resolves only once the store has the switch (every
 * replica's enforcement cache polls the epoch, so that is what makes the 1 s
 * bound hold even when pub/sub loses the message); the global switch then
 * seals this replica's keys before the API answers; the pub/sub message only
 * makes other replicas notice sooner.
 */
import type { KillScope, KillSwitch, KillSwitchSnapshot } from '../store/kill-switch-store.js';
import type { Stores } from '../store/stores.js';
import type { KeyCustodian } from '../crypto/key-custodian.js';
import { noWebhooks, type WebhookEmitter } from '../webhooks/events.js';

export const GLOBAL_TARGET = '*';

export class KillSwitchControl {
  constructor(
    private readonly stores: Pick<Stores, 'killSwitches' | 'killSwitchEvents'>,
    private readonly custodian: KeyCustodian,
    private readonly onPublishError: (err: unknown) => void = () => {},
    /** Told of every engage and every release that released a switch (`kill_switch.changed`). */
    private readonly webhooks: WebhookEmitter = noWebhooks,
  ) {}

  async engage(sw: KillSwitch): Promise<number> {
    const epoch = await this.stores.killSwitches.engage(sw);
    if (sw.scope === 'global') await this.custodian.onGlobalKill(true);
    this.#announce(epoch);
    await this.webhooks.emit({ type: 'kill_switch.changed', data: { scope: sw.scope, target: sw.target, engaged: true, epoch } });
    return epoch;
  }

  /** Returns the epoch and whether the switch was engaged before. */
  async release(scope: KillScope, target: string): Promise<{ epoch: number; released: boolean }> {
    const before = await this.stores.killSwitches.snapshot();
    const released = before.switches.some((sw) => sw.scope === scope && sw.target === target);
    const epoch = await this.stores.killSwitches.release(scope, target);
    if (scope === 'global') {
      // Unseal only when no global switch remains (another admin may have engaged one meanwhile).
      const after = await this.stores.killSwitches.snapshot();
      await this.custodian.onGlobalKill(after.switches.some((sw) => sw.scope === 'global'));
    }
    if (released) {
      this.#announce(epoch);
      await this.webhooks.emit({ type: 'kill_switch.changed', data: { scope, target, engaged: false, epoch } });
    }
    return { epoch, released };
  }

  snapshot(): Promise<KillSwitchSnapshot> {
    return this.stores.killSwitches.snapshot();
  }

  #announce(epoch: number): void {
    // Best effort by design: replicas poll the epoch anyway.
    this.stores.killSwitchEvents.publish(epoch).catch(this.onPublishError);
  }
}
