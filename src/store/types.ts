/**
 * Storage interfaces. Handlers and services depend on these, never on ioredis.
 *
 * Every method states an intent; anything check-then-act is one atomic step in
 * the implementation (Lua / MULTI in Redis, synchronous code in memory).
 * All values that are secrets arrive here already encrypted (envelope
 * ciphertext, base64url): a store never sees plaintext token material.
 */

export type GrantStatus = 'active' | 'consent_required' | 'revoked';

/** One user's link to one provider account. */
export interface Grant {
  id: string;
  /** User id = IdP `iss` + `sub`, as produced by identity/. */
  userId: string;
  provider: string;
  /** Subject of the account at the provider (e.g. Salesforce user id URL). */
  upstreamSubject: string;
  /** Salesforce `instance_url`, ServiceNow instance base; absent when the provider has a fixed API base. */
  instanceUrl?: string;
  /** Scopes granted upstream. */
  scopes: string[];
  status: GrantStatus;
  /** Envelope ciphertext (base64url) of the refresh token, AAD bound to this grant. */
  refreshToken: string;
  /** Fencing number: bumped by every refresh commit and status change. */
  version: number;
  /** Agent id -> operations the user consented to for that agent. */
  consent: Record<string, string[]>;
  /**
   * Agent id -> a counter bumped by every change of that agent's consent (absent = 0).
   * Operation tokens carry their agent's value at issue and die when it moves, so withdrawing
   * and re-granting consent does not bring an outstanding token back, while other agents'
   * tokens are untouched (exchange/token-liveness.ts).
   */
  consentEpochs?: Record<string, number>;
  createdAt: number;
  updatedAt: number;
}

/** Filter for admin listing; every field optional and ANDed. */
export interface GrantFilter {
  userId?: string;
  provider?: string;
  status?: GrantStatus;
  /** Grants where this agent has any consented operation. */
  agent?: string;
}

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page; absent at the end. */
  next?: string;
}

export interface GrantStore {
  /** Insert a new grant. Throws StoreConflictError when the id already exists. */
  create(grant: Grant): Promise<void>;
  get(id: string): Promise<Grant | null>;
  /** All grants of one user (consent pages). */
  listByUser(userId: string): Promise<Grant[]>;
  list(filter: GrantFilter, limit: number, cursor?: string): Promise<Page<Grant>>;
  /**
   * Replace the refresh token (rotation) iff the stored version equals `expectedVersion`.
   * Bumps the version. Returns the new version, or null when the version did not match
   * (a peer won the race) or the grant is gone.
   */
  commitRefresh(id: string, expectedVersion: number, refreshToken: string): Promise<number | null>;
  /**
   * Key rotation: swap the refresh-token ciphertext for a re-wrapped one iff it is still
   * exactly `expected`. Does NOT bump the version (the plaintext is unchanged), so an
   * in-flight refresh still commits. Returns false when the ciphertext changed or the grant is gone.
   */
  rewrapRefreshToken(id: string, expected: string, rewrapped: string): Promise<boolean>;
  /** Set status iff version matches (when given); bumps version. Returns new version or null. */
  setStatus(id: string, status: GrantStatus, expectedVersion?: number): Promise<number | null>;
  /** Replace one agent's consented operations (empty list removes the agent). Returns false if no grant. */
  setConsent(id: string, agent: string, operations: string[]): Promise<boolean>;
  /** Delete the grant and every key that hangs off it (cached access token). Returns false if absent. */
  delete(id: string): Promise<boolean>;
}

/** Record of an issued operation token, kept under its `jti` for exactly the token's lifetime. */
export interface OperationTokenRecord {
  jti: string;
  grantId: string;
  userId: string;
  agent: string;
  provider: string;
  operation: string;
  gateway: string;
  /** base64url SHA-256 of the gateway certificate DER (RFC 8705 `x5t#S256`). */
  certThumbprint: string;
  usesLeft: number;
  expiresAt: number;
  /** The grant's consent epoch for this agent when the token was issued (absent = 0). */
  consentEpoch?: number;
}

export interface TokenStore {
  /**
   * Store a record with a TTL. Nothing links it to its grant but its `grantId`:
   * callers honour a record only while its grant is live (exchange/token-liveness.ts),
   * which is what kills a revoked grant's outstanding tokens.
   */
  put(record: OperationTokenRecord, ttlMs: number): Promise<void>;
  get(jti: string): Promise<OperationTokenRecord | null>;
  /**
   * Spend one use atomically. Returns the record as it was before spending, or null when
   * the token is unknown, expired, revoked or has no uses left. Never GET-then-DECR.
   */
  consume(jti: string): Promise<OperationTokenRecord | null>;

  /** Cache the encrypted upstream access token of a grant (ciphertext, expiry) with a TTL. */
  cacheAccessToken(grantId: string, entry: CachedAccessToken, ttlMs: number): Promise<void>;
  getAccessToken(grantId: string): Promise<CachedAccessToken | null>;
  dropAccessToken(grantId: string): Promise<void>;
}

export interface CachedAccessToken {
  /** Envelope ciphertext (base64url) of the access token. */
  ciphertext: string;
  /** Epoch ms when the upstream token expires. */
  expiresAt: number;
  /** Grant version the token was obtained under. */
  grantVersion: number;
}

export interface LockStore {
  /** Take the lock iff free (`SET NX PX`). Returns an owner token, or null when held by someone else. */
  acquire(name: string, ttlMs: number): Promise<string | null>;
  /** Release only if still owned by `owner` (compare-and-delete). Returns whether it was released. */
  release(name: string, owner: string): Promise<boolean>;
}

export type KillScope = 'global' | 'gateway' | 'agent' | 'user' | 'provider' | 'grant';

export interface KillSwitch {
  scope: KillScope;
  /** The id within the scope; `*` for global. */
  target: string;
  reason: string;
  engagedAt: number;
  engagedBy: string;
}

export interface KillSwitchSnapshot {
  /** Monotonic; bumped by every engage/release in the same atomic step. */
  epoch: number;
  switches: KillSwitch[];
}

export interface KillSwitchStore {
  /** Engage durably; resolves only once written. Returns the new epoch. */
  engage(sw: KillSwitch): Promise<number>;
  /** Release; returns the new epoch (unchanged if the switch was not engaged). */
  release(scope: KillScope, target: string): Promise<number>;
  epoch(): Promise<number>;
  snapshot(): Promise<KillSwitchSnapshot>;
}

/**
 * Fast-path notice that the kill switches changed (Redis pub/sub). Best effort:
 * a lost message only costs latency, because replicas also poll `epoch()`.
 */
export interface KillSwitchEvents {
  /** Announce a new epoch to every replica (after the change is durable). */
  publish(epoch: number): Promise<void>;
  /** Call `listener` with every epoch announced; resolves once subscribed, with an unsubscribe. */
  subscribe(listener: (epoch: number) => void): Promise<() => Promise<void>>;
}

/** Small durable state of admin jobs (e.g. the rewrap job's cursor and last report), JSON by name. */
export interface AdminJobStore {
  load(job: string): Promise<string | null>;
  save(job: string, state: string): Promise<void>;
}

/** One stored audit entry: the chain fields plus the serialized event body. */
export interface AuditEntry {
  seq: number;
  /** Hash of the previous entry ('' for the first). */
  prev: string;
  /** Hash of this entry (HMAC over prev + body, computed by audit/). */
  hash: string;
  /** JSON of the audit event. */
  body: string;
}

export interface AuditHead {
  seq: number;
  hash: string;
}

/** `turnHeld`: refused because another writer holds the append turn (see AuditStore.takeTurn). */
export type AppendResult = { ok: true } | { ok: false; head: AuditHead | null; turnHeld?: boolean };

export interface AuditStore {
  head(): Promise<AuditHead | null>;
  /**
   * Append a batch iff the chain head still equals `expectedHead` (null = empty chain).
   * Atomic: all entries or none. On mismatch returns the current head so the writer can re-chain.
   */
  append(expectedHead: AuditHead | null, entries: AuditEntry[], turn?: string): Promise<AppendResult>;
  /**
   * Fairness between replicas: take the exclusive append turn for `ttlMs`, or null when another
   * writer holds it. While a turn is held, append refuses every writer but the holder (passing
   * `turn`), whose successful append releases it. A writer asks for the turn after losing a race,
   * so under contention appends go one replica at a time instead of colliding.
   */
  takeTurn?(ttlMs: number): Promise<string | null>;
  /** Entries with seq >= fromSeq, ascending, at most `count`. */
  range(fromSeq: number, count: number): Promise<AuditEntry[]>;
  /** Entries with seq <= toSeq, newest first, at most `count` (admin queries page backwards from the head). */
  reverseRange(toSeq: number, count: number): Promise<AuditEntry[]>;
  /**
   * The newest entries whose record names `grantId` in its top-level `grant` field, newest
   * first, at most `count` (the consent pages' per-connection history). Served from a
   * per-grant index that append maintains in the same atomic step and caps at
   * AUDIT_GRANT_INDEX_CAP entries per grant, so a read costs O(count) however long the trail
   * is, instead of a scan of the stream. Only entries appended since the index existed are in it.
   */
  latestForGrant(grantId: string, count: number): Promise<AuditEntry[]>;
}

/** Entries kept per grant in the audit store's grant index (older ones stay in the chain, unindexed). */
export const AUDIT_GRANT_INDEX_CAP = 200;

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

/** An upstream RFC 7009 revocation that failed and is retried later. */
export interface PendingRevocation {
  id: string;
  provider: string;
  /** The grant the token belonged to: the AAD of `token` (it may be deleted since). */
  grantId: string;
  userId: string;
  /** Envelope ciphertext of the token, sealed to the grant (grants/secrets.ts). */
  token: string;
  hint: 'refresh_token' | 'access_token';
  attempts: number;
  /** Epoch ms of the next attempt. */
  nextAttemptAt: number;
  createdAt: number;
  /** Short non-secret reason of the last failure. */
  lastError?: string;
}

export interface RevocationQueue {
  /** Add (or replace) an item. */
  enqueue(item: PendingRevocation): Promise<void>;
  /**
   * Items due at `now`, at most `limit`, each leased for `leaseMs` in the same atomic
   * step (its next attempt moves to now + leaseMs), so two workers never retry one item at once.
   */
  claimDue(now: number, limit: number, leaseMs: number): Promise<PendingRevocation[]>;
  /** Record a failed attempt: new attempt count, next attempt time and reason. */
  reschedule(id: string, attempts: number, nextAttemptAt: number, lastError: string): Promise<void>;
  /** Remove an item (revoked upstream, or given up). */
  complete(id: string): Promise<void>;
  /** Every pending item, soonest first (admin views and tests). */
  list(): Promise<PendingRevocation[]>;
}

/** Everything the app needs from storage, with one lifecycle. */
export interface Stores {
  grants: GrantStore;
  tokens: TokenStore;
  locks: LockStore;
  killSwitches: KillSwitchStore;
  killSwitchEvents: KillSwitchEvents;
  adminJobs: AdminJobStore;
  audit: AuditStore;
  sessions: SessionStore;
  oneShot: OneShotStore;
  revocations: RevocationQueue;
  /** Cheap round trip for /readyz; rejects when the backend is unreachable. */
  ping(): Promise<void>;
  /**
   * Why this backend would lose data, one line each (empty when durable): production
   * refuses to start on Redis without AOF or with an evicting `maxmemory-policy`.
   */
  durabilityProblems(): Promise<string[]>;
  close(): Promise<void>;
}

export class StoreConflictError extends Error {
  override name = 'StoreConflictError';
}

/** The backend did not answer in time or is unreachable. Callers fail closed (503). */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}
