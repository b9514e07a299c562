import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { connectRedisStores } from '../../src/store/redis/index.js';
import { redisForTests } from '../helpers/redis-server.js';
import type { RedisHandle } from '../helpers/redis-server.js';
import { describeStoreContract } from './stores.contract.js';

let server: RedisHandle;
let admin: Redis;

beforeAll(async () => {
  server = await redisForTests();
  admin = new Redis(server.url);
});

afterAll(async () => {
  await admin.quit();
  await server.stop();
});

describeStoreContract('redis', async () => {
  // A private server is flushed; a shared REDIS_URL server gets a fresh prefix per test instead.
  const keyPrefix = server.private ? 'tv:' : `tv-test-${randomUUID()}:`;
  if (server.private) await admin.flushdb();
  const stores = await connectRedisStores({ url: server.url, keyPrefix });
  return {
    stores,
    cleanup: async () => {
      await stores.close();
      if (!server.private) {
        const keys = await admin.keys(`${keyPrefix}*`);
        if (keys.length > 0) await admin.del(...keys);
      }
    },
  };
});
