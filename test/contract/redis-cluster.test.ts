/** The store contract on a Redis Cluster (3 masters, 1 replica each), one cluster for the file. */
import { afterAll, beforeAll } from 'vitest';
import { connectRedisStores } from '../../src/store/redis/index.js';
import { startRedisCluster } from '../helpers/redis-cluster.js';
import type { RedisClusterHandle } from '../helpers/redis-cluster.js';
import { describeStoreContract } from './stores.contract.js';

let cluster: RedisClusterHandle;

beforeAll(async () => {
  cluster = await startRedisCluster();
});

afterAll(async () => {
  await cluster.stop();
});

describeStoreContract('redis cluster', async () => {
  await cluster.flush();
  const stores = await connectRedisStores({ mode: 'cluster', nodes: cluster.urls, keyPrefix: 'tv:' }, 10_000);
  return { stores, cleanup: () => stores.close() };
});
