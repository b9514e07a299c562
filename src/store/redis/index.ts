export { connectRedisStores, createRedisStores } from './redis-stores.js';
export type { RedisStoreOptions } from './options.js';
export { StoreConnectError } from './connect-failure.js';
