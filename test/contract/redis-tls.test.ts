/** The store contract once more on a TLS-only Redis, as its ACL user (test/helpers/redis-tls-server.ts). */
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { connectRedisStores } from '../../src/store/redis/index.js';
import { startRedisTls, type RedisTlsHandle } from '../helpers/redis-tls-server.js';
import { describeStoreContract } from './stores.contract.js';

let server: RedisTlsHandle;
let admin: Redis;

beforeAll(async () => {
  server = await startRedisTls();
  admin = new Redis(server.url, { username: server.username, password: server.password, tls: { ca: server.caPem } });
});

afterAll(async () => {
  await admin.quit();
  await server.stop();
});

describeStoreContract('redis over TLS with an ACL user', async () => {
  // Its keys only (the ACL user's pattern is tv:*), one DEL per test.
  const keys = await admin.keys('tv:*');
  if (keys.length > 0) await admin.del(...keys);
  const stores = await connectRedisStores({ url: server.url, username: server.username, password: server.password, tlsCa: server.caPem });
  return { stores, cleanup: () => stores.close() };
});
