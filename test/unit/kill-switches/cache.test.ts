import { describe, expect, it } from 'vitest';
import { AccessDenied, TemporarilyUnavailable } from '../../../src/errors.js';
import { KillSwitchCache } from '../../../src/kill-switches/cache.js';
import { MemoryKillSwitchEvents } from '../../../src/store/memory/kill-switch-events.js';
import { MemoryKillSwitchStore } from '../../../src/store/memory/kill-switch-store.js';
import { StoreUnavailableError } from '../../../src/store/errors.js';

class FlakyStore extends MemoryKillSwitchStore {
  down = false;
  epochReads = 0;
  /** While set, epoch reads wait for it. */
  gate: Promise<void> | undefined;
  snapshotDown = false;
  snapshots = 0;
  override async epoch(): Promise<number> {
    this.epochReads += 1;
    await this.gate;
    if (this.down) throw new StoreUnavailableError('down');
    return super.epoch();
  }
  override async snapshot() {
    this.snapshots += 1;
    if (this.snapshotDown) throw new StoreUnavailableError('down');
    return super.snapshot();
  }
}

const engaged = (cache: KillSwitchCache, subjects: Parameters<KillSwitchCache['assertOpen']>[0]) => {
  try {
    cache.assertOpen(subjects);
    return 'open';
  } catch (err) {
    return (err as Error).name;
  }
};

describe('kill-switch cache', () => {
  it('enforces every scope after the next poll, and global for everyone', async () => {
    const store = new FlakyStore();
    const now = 0;
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

  it('reads an announced epoch at once instead of waiting for the next poll', async () => {
    const store = new FlakyStore();
    const events = new MemoryKillSwitchEvents();
    // No poll within the test: only the announcement can make the cache see the switch.
    const cache = new KillSwitchCache(store, { pollMs: 3_600_000, now: () => 0, events });
    await cache.start();
    try {
      await expect.poll(() => cache.assertOpen({ agent: 'a' })).toBeUndefined();
      const epoch = await store.engage({ scope: 'agent', target: 'a', reason: 'r', engagedAt: 0, engagedBy: 'sec' });
      expect(engaged(cache, { agent: 'a' })).toBe('open');
      await events.publish(epoch);
      await expect.poll(() => engaged(cache, { agent: 'a' })).toBe('AccessDenied');
      expect(engaged(cache, { agent: 'b' })).toBe('open');
    } finally {
      cache.stop();
    }
  });

  it('coalesces concurrent syncs into the read in flight and one more', async () => {
    const store = new FlakyStore();
    const cache = new KillSwitchCache(store, { now: () => 0 });
    await Promise.all(Array.from({ length: 10 }, () => cache.sync()));
    expect(store.epochReads).toBe(1);
    let open!: () => void;
    store.gate = new Promise((resolve) => (open = resolve));
    const inFlight = cache.sync();
    await expect.poll(() => store.epochReads).toBe(2);
    const queued = Array.from({ length: 10 }, () => cache.sync());
    open();
    await Promise.all([inFlight, ...queued]);
    expect(store.epochReads).toBe(3);
    await store.engage({ scope: 'global', target: '*', reason: 'r', engagedAt: 0, engagedBy: 'sec' });
    await cache.sync();
    expect(engaged(cache, {})).toBe('AccessDenied');
  });

  it('confirmCurrent: a switch engaged elsewhere is enforced on the next request, without any poll', async () => {
    const store = new FlakyStore();
    const cache = new KillSwitchCache(store, { now: () => 0 });
    await cache.sync();
    expect(store.snapshots).toBe(1);
    await cache.confirmCurrent();
    expect(store.snapshots).toBe(1);
    cache.assertOpen({ agent: 'a' });

    // Engaged by another replica: this cache never polled, the next request still sees it.
    await store.engage({ scope: 'agent', target: 'a', reason: 'r', engagedAt: 0, engagedBy: 'sec' });
    await Promise.all(Array.from({ length: 20 }, () => cache.confirmCurrent()));
    expect(store.snapshots).toBe(2);
    expect(() => cache.assertOpen({ agent: 'a' })).toThrow(AccessDenied);
    cache.assertOpen({ agent: 'b' });

    // Store down: the request fails closed instead of trusting the old snapshot.
    store.down = true;
    await expect(cache.confirmCurrent()).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it("a request's own confirmation decides, however long the process took to reach the decision", async () => {
    const store = new FlakyStore();
    let now = 0;
    const cache = new KillSwitchCache(store, { now: () => now });
    await cache.sync();
    const confirmedAt = await cache.confirmCurrent();
    // A busy process reaches the decision 3 s after its read: the snapshot is as new as that read.
    now = 3_000;
    expect(() => cache.assertOpen({ agent: 'a' })).toThrow(TemporarilyUnavailable);
    expect(() => cache.assertOpen({ agent: 'a' }, confirmedAt)).not.toThrow();
    // A confirmation newer than any read of the snapshot is not one the snapshot satisfies.
    expect(() => cache.assertOpen({ agent: 'a' }, confirmedAt + 1)).toThrow(TemporarilyUnavailable);
    await store.engage({ scope: 'agent', target: 'a', reason: 'r', engagedAt: 0, engagedBy: 'sec' });
    const next = await cache.confirmCurrent();
    expect(() => cache.assertOpen({ agent: 'a' }, next)).toThrow(AccessDenied);
  });

  it('tells listeners of every confirmed read, and of none that failed', async () => {
    const store = new FlakyStore();
    const cache = new KillSwitchCache(store, { now: () => 0 });
    const seen: [number, boolean][] = [];
    const off = cache.onConfirmed((epoch, globalEngaged) => seen.push([epoch, globalEngaged]));
    expect(seen).toStrictEqual([]);
    await cache.sync();
    const epoch = await store.engage({ scope: 'global', target: '*', reason: 'r', engagedAt: 0, engagedBy: 'sec' });
    await cache.sync();
    store.down = true;
    await cache.sync();
    store.down = false;
    await cache.sync();
    expect(seen).toStrictEqual([
      [0, false],
      [epoch, true],
      [epoch, true],
    ]);
    const late: [number, boolean][] = [];
    cache.onConfirmed((e, g) => late.push([e, g]));
    expect(late).toStrictEqual([[epoch, true]]);
    off();
    await cache.sync();
    expect(seen).toHaveLength(3);
  });

  it('confirmCurrent fails closed when the newer snapshot cannot be read', async () => {
    const store = new FlakyStore();
    const cache = new KillSwitchCache(store, { now: () => 0 });
    await cache.sync();
    store.snapshotDown = true;
    await store.engage({ scope: 'user', target: 'u', reason: 'r', engagedAt: 0, engagedBy: 'sec' });
    await expect(cache.confirmCurrent()).rejects.toBeInstanceOf(TemporarilyUnavailable);
  });
});
