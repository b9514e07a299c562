/** The store contract on a Redis Sentinel set (master, replica, 3 sentinels), one set for the file. */
import { afterAll, beforeAll } from 'vitest';
import { connectRedisStores } from '../../src/store/redis/index.js';
import { startRedisSentinel } from '../helpers/redis-sentinel.js';
import type { RedisSentinelHandle } from '../helpers/redis-sentinel.js';
import { describeStoreContract } from './stores.contract.js';

let sentinel: RedisSentinelHandle;

beforeAll(async () => {
  sentinel = await startRedisSentinel();
});

afterAll(async () => {
  await sentinel.stop();
});

describeStoreContract('redis sentinel', async () => {
  await sentinel.flush();
  const stores = await connectRedisStores({ mode: 'sentinel', nodes: sentinel.sentinelUrls, masterName: sentinel.name, keyPrefix: 'tv:' }, 10_000);
  return { stores, cleanup: () => stores.close() };
});
