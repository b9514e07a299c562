import { ttlToMs } from '../validation.js';
import type { OneShotStore, Session, SessionStore } from '../session-store.js';
import type { RedisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

/** Redis SessionStore: one JSON string per session under the hash of its id, with a TTL. */
export class RedisSessionStore implements SessionStore {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: RedisKeys,
  ) {}

  async create(id: string, session: Session, ttlMs: number): Promise<void> {
    const ttl = ttlToMs(ttlMs);
    await this.redis.set(this.keys.session(id), JSON.stringify(session), 'PX', ttl);
  }

  async get(id: string): Promise<Session | null> {
    const json = await this.redis.get(this.keys.session(id));
    return json === null ? null : (JSON.parse(json) as Session);
  }

  async destroy(id: string): Promise<void> {
    await this.redis.del(this.keys.session(id));
  }
}

/** Redis OneShotStore: `SET PX`, and `GETDEL` so a value can be taken exactly once. */
export class RedisOneShotStore implements OneShotStore {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: RedisKeys,
  ) {}

  async put(key: string, value: string, ttlMs: number): Promise<void> {
    const ttl = ttlToMs(ttlMs);
    await this.redis.set(this.keys.oneShot(key), value, 'PX', ttl);
  }

  async take(key: string): Promise<string | null> {
    return await this.redis.getdel(this.keys.oneShot(key));
  }
}
