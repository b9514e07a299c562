/**
 * A Redis that loses its last kill-switch change (failover to a replica that had not
 * received it, or a restart inside the AOF fsync window) must not let a later change
 * reuse the epoch a replica cached with the lost switch set: the replica would see an
 * unchanged epoch and never load the new switch (security review).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessDenied } from '../../src/errors.js';
import { KillSwitchCache } from '../../src/kill-switches/cache.js';
import { connectRedisStores } from '../../src/store/redis/index.js';
import type { KillSwitch } from '../../src/store/kill-switch-store.js';
import type { Stores } from '../../src/store/stores.js';
import { startRedis, type RedisHandle } from '../helpers/redis-server.js';

let redis: RedisHandle;
let stores: Stores;
let raw: Redis;

beforeAll(async () => {
  redis = await startRedis();
  stores = await connectRedisStores({ url: redis.url, keyPrefix: 'ksreset:' });
  raw = new Redis(redis.url);
});
afterAll(async () => {
  raw?.disconnect();
  await stores?.close();
  await redis?.stop();
});

const agentSwitch = (target: string): KillSwitch => ({
  scope: 'agent',
  target,
  reason: 'incident',
  engagedAt: Date.now(),
  engagedBy: 'spiffe://corp.example/admin',
});

describe('kill-switch epochs across a lost write', () => {
  it('a switch engaged after Redis lost the previous change is still enforced on a replica that cached the lost one', async () => {
    const cache = new KillSwitchCache(stores.killSwitches);
    await cache.sync();
    const before = await raw.get('ksreset:{ks}:epoch');

    const lost = await stores.killSwitches.engage(agentSwitch('agent-a'));
    await cache.confirmCurrent();
    expect(() => cache.assertOpen({ agent: 'agent-a' })).toThrow(AccessDenied);

    // Redis comes back without that change: the switch and the epoch bump are gone.
    await raw.hdel('ksreset:{ks}:switches', 'agent:agent-a');
    if (before === null) await raw.del('ksreset:{ks}:epoch');
    else await raw.set('ksreset:{ks}:epoch', before);

    await new Promise((resolve) => setTimeout(resolve, 5));
    const engaged = await stores.killSwitches.engage(agentSwitch('agent-b'));
    expect(engaged).not.toBe(lost);
    await cache.confirmCurrent();
    expect(() => cache.assertOpen({ agent: 'agent-b' })).toThrow(AccessDenied);
    // And the snapshot is the store's, not the cached one: the lost switch is gone.
    expect(() => cache.assertOpen({ agent: 'agent-a' })).not.toThrow();
  });
});
