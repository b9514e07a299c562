import { ttlToMs } from '../validation.js';
import type { OneShotStore, Session, SessionStore } from '../session-store.js';
import { ExpiringMap } from './expiring-map.js';

/** In-memory SessionStore with TTLs. */
export class MemorySessionStore implements SessionStore {
  readonly #sessions = new ExpiringMap<Session>();

  async create(id: string, session: Session, ttlMs: number): Promise<void> {
    this.#sessions.set(id, { ...session }, ttlToMs(ttlMs));
  }

  async get(id: string): Promise<Session | null> {
    const session = this.#sessions.get(id);
    return session === undefined ? null : { ...session };
  }

  async destroy(id: string): Promise<void> {
    this.#sessions.delete(id);
  }
}

/** In-memory OneShotStore: take is read-and-remove in one synchronous step. */
export class MemoryOneShotStore implements OneShotStore {
  readonly #values = new ExpiringMap<string>();

  async put(key: string, value: string, ttlMs: number): Promise<void> {
    this.#values.set(key, value, ttlToMs(ttlMs));
  }

  async take(key: string): Promise<string | null> {
    const value = this.#values.get(key);
    if (value === undefined) return null;
    this.#values.delete(key);
    return value;
  }
}
