import { describe, expect, it } from 'vitest';
import type { KillSwitch } from '../../src/store/kill-switch-store.js';
import type { Stores } from '../../src/store/stores.js';

/** KillSwitchStore behaviour: epoch bumps, snapshot, release. */
export function describeKillSwitchStoreContract(stores: () => Stores): void {
  describe('kill switches', () => {
    const sw = (scope: KillSwitch['scope'], target: string): KillSwitch => ({
      scope,
      target,
      reason: 'incident-42',
      engagedAt: 1_763_776_543_210,
      engagedBy: 'spiffe://corp.example/admin',
    });
    const byKey = (a: KillSwitch, b: KillSwitch): number => `${a.scope}:${a.target}`.localeCompare(`${b.scope}:${b.target}`);

    it('starts empty at epoch 0', async () => {
      expect(await stores().killSwitches.epoch()).toBe(0);
      expect(await stores().killSwitches.snapshot()).toStrictEqual({ epoch: 0, switches: [] });
    });

    it('moves the epoch up on every engage and effective release, to at least the clock in ms', async () => {
      const before = Date.now();
      const e1 = await stores().killSwitches.engage(sw('agent', 'spiffe://corp.example/agent/a'));
      const e2 = await stores().killSwitches.engage(sw('global', '*'));
      const e3 = await stores().killSwitches.engage(sw('agent', 'spiffe://corp.example/agent/a'));
      expect(e1).toBeGreaterThanOrEqual(before - 5_000);
      expect(e2).toBeGreaterThan(e1);
      expect(e3).toBeGreaterThan(e2);
      const snap = await stores().killSwitches.snapshot();
      expect(snap.epoch).toBe(e3);
      expect([...snap.switches].sort(byKey)).toStrictEqual([sw('agent', 'spiffe://corp.example/agent/a'), sw('global', '*')]);

      const e4 = await stores().killSwitches.release('global', '*');
      expect(e4).toBeGreaterThan(e3);
      expect(await stores().killSwitches.release('global', '*')).toBe(e4);
      expect(await stores().killSwitches.release('user', 'never-engaged')).toBe(e4);
      expect(await stores().killSwitches.epoch()).toBe(e4);
      expect(await stores().killSwitches.snapshot()).toStrictEqual({ epoch: e4, switches: [sw('agent', 'spiffe://corp.example/agent/a')] });
    });

    it('keeps switches with the same target apart by scope', async () => {
      await stores().killSwitches.engage(sw('user', 'x'));
      await stores().killSwitches.engage(sw('provider', 'x'));
      await stores().killSwitches.release('user', 'x');
      expect((await stores().killSwitches.snapshot()).switches).toStrictEqual([sw('provider', 'x')]);
    });
  });
}
