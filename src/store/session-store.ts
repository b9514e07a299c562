/** Consent-page sessions and single-use values (OAuth `state`). */
/**
 * A signed-in browser on the consent pages. Kept server-side under the hash of
 * an opaque cookie value; never holds a token (the IdP's tokens are dropped
 * after sign-in).
 */
export interface Session {
  /** User id = IdP `iss` + `sub` (identity/user-id.ts). */
  userId: string;
  /** Shown on the pages only. */
  displayName: string;
  /** Secret the page CSRF tokens are derived from (@fastify/csrf-protection). */
  csrfSecret: string;
  createdAt: number;
}

export interface SessionStore {
  /** Store a session under its id with a TTL (overwrites: ids are fresh random values). */
  create(id: string, session: Session, ttlMs: number): Promise<void>;
  get(id: string): Promise<Session | null>;
  destroy(id: string): Promise<void>;
}

/**
 * Single-use values with a TTL: OAuth `state` of sign-in and link flows.
 * `take` reads and removes in one atomic step (Redis GETDEL), so a replayed
 * state finds nothing.
 */
export interface OneShotStore {
  /** Store `value` under `key` for `ttlMs`. */
  put(key: string, value: string, ttlMs: number): Promise<void>;
  /** Return and remove the value, or null when absent, expired or already taken. */
  take(key: string): Promise<string | null>;
}
