import { describe, expect, it } from 'vitest';
import { AccessDenied, TemporarilyUnavailable } from '../../../src/errors.js';
import { KillSwitchCache } from '../../../src/exchange/kill-switches.js';
import { MemoryKillSwitchStore } from '../../../src/store/memory/kill-switch-store.js';
import { StoreUnavailableError } from '../../../src/store/types.js';

class FlakyStore extends MemoryKillSwitchStore {
  down = false;
  override async epoch(): Promise<number> {
    if (this.down) throw new StoreUnavailableError('down');
    return super.epoch();
  }
}

describe('kill-switch cache', () => {
  it('enforces every scope after the next poll, and global for everyone', async () => {
    const store = new FlakyStore();
    let now = 0;
    const cache = new KillSwitchCache(store, { now: () => now });
    await cache.sync();
    const who = { gateway: 'gw', agent: 'a', user: 'u', provider: 'p', grant: 'g' };
    cache.assertOpen(who);
    for (const [scope, target] of Object.entries(who)) {
      await store.engage({ scope: scope as 'agent', target, reason: 'r', engagedAt: 0, engagedBy: 'sec' });
      await cache.sync();
      expect(() => cache.assertOpen(who)).toThrow(AccessDenied);
      expect(() => cache.assertOpen({ ...who, [scope]: 'someone-else' })).not.toThrow();
      await store.release(scope as 'agent', target);
      await cache.sync();
    }
    await store.engage({ scope: 'global', target: '*', reason: 'r', engagedAt: 0, engagedBy: 'sec' });
    await cache.sync();
    expect(() => cache.assertOpen({})).toThrow(AccessDenied);
  });

  it('fails closed once the snapshot could not be confirmed for more than a second', async () => {
    const store = new FlakyStore();
    let now = 0;
    const cache = new KillSwitchCache(store, { now: () => now });
    expect(() => cache.assertOpen({})).toThrow(TemporarilyUnavailable);
    await cache.sync();
    cache.assertOpen({});
    store.down = true;
    now = 900;
    await cache.sync();
    cache.assertOpen({});
    now = 1_001;
    expect(() => cache.assertOpen({})).toThrow(TemporarilyUnavailable);
    store.down = false;
    await cache.sync();
    cache.assertOpen({});
  });
});
