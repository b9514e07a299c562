import { describe, expect, it } from 'vitest';
import { KillSwitchCache } from '../../../src/kill-switches/cache.js';
import { GlobalKillWatcher } from '../../../src/kill-switches/watcher.js';
import { MemoryKillSwitchEvents } from '../../../src/store/memory/kill-switch-events.js';
import { MemoryKillSwitchStore } from '../../../src/store/memory/kill-switch-store.js';

const globalSwitch = { scope: 'global', target: '*', reason: 'r', engagedAt: 0, engagedBy: 'sec' } as const;
const agentSwitch = { scope: 'agent', target: 'a', reason: 'r', engagedAt: 0, engagedBy: 'sec' } as const;

class CountingStore extends MemoryKillSwitchStore {
  reads = 0;
  override async epoch(): Promise<number> {
    this.reads += 1;
    return super.epoch();
  }
}

/** Records what the keys were told; fails the next `failures` calls. */
class FakeCustodian {
  calls: boolean[] = [];
  failures = 0;
  sealed = false;
  async onGlobalKill(engaged: boolean): Promise<void> {
    this.calls.push(engaged);
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error('key files unreadable');
    }
    this.sealed = engaged;
  }
}

function setUp() {
  const store = new CountingStore();
  const cache = new KillSwitchCache(store, { now: () => 0 });
  const custodian = new FakeCustodian();
  const errors: unknown[] = [];
  const watcher = new GlobalKillWatcher({ cache, custodian, onError: (err) => errors.push(err) });
  return { store, cache, custodian, errors, watcher };
}

describe('global kill watcher', () => {
  it('seals at start when the global switch is already engaged, reading nothing itself', async () => {
    const { store, cache, custodian, watcher } = setUp();
    await store.engage(globalSwitch);
    await cache.sync();
    const reads = store.reads;
    await watcher.start();
    expect({ sealed: custodian.sealed, calls: custodian.calls, reads: store.reads }).toStrictEqual({ sealed: true, calls: [true], reads });
    await watcher.stop();
  });

  it('follows the cache: seals on engage, unseals on release, once per change', async () => {
    const { store, cache, custodian, watcher } = setUp();
    await watcher.start();
    expect(custodian.calls).toStrictEqual([]);
    await cache.sync();
    await store.engage(agentSwitch);
    await cache.sync();
    await expect.poll(() => custodian.calls).toStrictEqual([false, false]);

    await store.engage(globalSwitch);
    await cache.sync();
    await expect.poll(() => custodian.sealed).toBe(true);
    // Polls that find the same epoch change nothing.
    await cache.sync();
    await cache.sync();
    await store.release('global', '*');
    await cache.sync();
    await expect.poll(() => custodian.sealed).toBe(false);
    expect(custodian.calls).toStrictEqual([false, false, true, false]);
    await watcher.stop();
  });

  it('retries a failed seal at the next confirmed read and reports the failure', async () => {
    const { store, cache, custodian, errors, watcher } = setUp();
    await watcher.start();
    custodian.failures = 1;
    await store.engage(globalSwitch);
    await cache.sync();
    await expect.poll(() => errors.length).toBe(1);
    expect(custodian.sealed).toBe(false);
    await cache.sync();
    await expect.poll(() => custodian.sealed).toBe(true);
    expect(custodian.calls).toStrictEqual([true, true]);
    await watcher.stop();
  });

  it('learns of an announced change through the cache, without a poll of its own', async () => {
    const store = new CountingStore();
    const events = new MemoryKillSwitchEvents();
    const cache = new KillSwitchCache(store, { pollMs: 3_600_000, now: () => 0, events });
    const custodian = new FakeCustodian();
    const watcher = new GlobalKillWatcher({ cache, custodian });
    await cache.start();
    await watcher.start();
    try {
      await events.publish(await store.engage(globalSwitch));
      await expect.poll(() => custodian.sealed).toBe(true);
    } finally {
      await watcher.stop();
      cache.stop();
    }
  });

  it('stops following once stopped', async () => {
    const { store, cache, custodian, watcher } = setUp();
    await cache.sync();
    await watcher.start();
    await watcher.stop();
    await store.engage(globalSwitch);
    await cache.sync();
    expect(custodian.calls).toStrictEqual([false]);
  });
});
