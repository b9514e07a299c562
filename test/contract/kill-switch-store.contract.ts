import { describe, expect, it } from 'vitest';
import type { KillSwitch, Stores } from '../../src/store/types.js';

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

    it('bumps the epoch on every engage and effective release', async () => {
      expect(await stores().killSwitches.engage(sw('agent', 'spiffe://corp.example/agent/a'))).toBe(1);
      expect(await stores().killSwitches.engage(sw('global', '*'))).toBe(2);
      expect(await stores().killSwitches.engage(sw('agent', 'spiffe://corp.example/agent/a'))).toBe(3);
      const snap = await stores().killSwitches.snapshot();
      expect(snap.epoch).toBe(3);
      expect([...snap.switches].sort(byKey)).toStrictEqual([sw('agent', 'spiffe://corp.example/agent/a'), sw('global', '*')]);

      expect(await stores().killSwitches.release('global', '*')).toBe(4);
      expect(await stores().killSwitches.release('global', '*')).toBe(4);
      expect(await stores().killSwitches.release('user', 'never-engaged')).toBe(4);
      expect(await stores().killSwitches.epoch()).toBe(4);
      expect(await stores().killSwitches.snapshot()).toStrictEqual({ epoch: 4, switches: [sw('agent', 'spiffe://corp.example/agent/a')] });
    });

    it('keeps switches with the same target apart by scope', async () => {
      await stores().killSwitches.engage(sw('user', 'x'));
      await stores().killSwitches.engage(sw('provider', 'x'));
      await stores().killSwitches.release('user', 'x');
      expect((await stores().killSwitches.snapshot()).switches).toStrictEqual([sw('provider', 'x')]);
    });
  });
}
