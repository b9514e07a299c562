import type { RedisClient } from './client.js';
import type { AdminJobStore } from '../admin-job-store.js';
import type { RedisKeys } from './keys.js';

/** Redis AdminJobStore: one string per job under `job:<name>`. */
export class RedisAdminJobStore implements AdminJobStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async load(job: string): Promise<string | null> {
    return await this.redis.get(this.keys.adminJob(job));
  }

  async save(job: string, state: string): Promise<void> {
    await this.redis.set(this.keys.adminJob(job), state);
  }
}
