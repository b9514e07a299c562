import { describe, expect, it } from 'vitest';
import type { Stores } from '../../src/store/stores.js';

/** KillSwitchEvents (pub/sub fast path) and AdminJobStore behaviour. */
export function describeAdminStoresContract(stores: () => Stores): void {
  describe('kill-switch events', () => {
    it('delivers every published epoch to each subscriber until it unsubscribes', async () => {
      const a: number[] = [];
      const b: number[] = [];
      const offA = await stores().killSwitchEvents.subscribe((e) => a.push(e));
      await stores().killSwitchEvents.subscribe((e) => b.push(e));
      await stores().killSwitchEvents.publish(7);
      await expect.poll(() => b).toStrictEqual([7]);
      await offA();
      await stores().killSwitchEvents.publish(8);
      await expect.poll(() => b).toStrictEqual([7, 8]);
      expect(a).toStrictEqual([7]);
    });
  });

  describe('admin jobs', () => {
    it('keeps the last saved state per job', async () => {
      expect(await stores().adminJobs.load('rewrap')).toBeNull();
      await stores().adminJobs.save('rewrap', '{"cursor":"g1"}');
      await stores().adminJobs.save('rewrap', '{"cursor":"g2"}');
      await stores().adminJobs.save('other', '{}');
      expect(await stores().adminJobs.load('rewrap')).toBe('{"cursor":"g2"}');
      expect(await stores().adminJobs.load('other')).toBe('{}');
    });
  });
}
