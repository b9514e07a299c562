/**
 * Storage interfaces, one file per store. Handlers and services depend on these, never on ioredis.
 * Every method states an intent; anything check-then-act is one atomic step in the
 * implementation (Lua / MULTI in Redis, synchronous code in memory). Secrets arrive here
 * already encrypted (envelope ciphertext, base64url): a store never sees plaintext token material.
 */
import type { Page } from './page.js';

/**
 * `integrity_error`: a ciphertext of the grant failed to open (tampered, swapped onto another
 * record, or under a key the vault no longer holds). Quarantined: never used or refreshed again,
 * the user must link the account again.
 */
export const GRANT_STATUSES = ['active', 'consent_required', 'integrity_error', 'revoked'] as const;
export type GrantStatus = (typeof GRANT_STATUSES)[number];

export const isGrantStatus = (value: unknown): value is GrantStatus => (GRANT_STATUSES as readonly unknown[]).includes(value);

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
   * tokens are untouched (grants/liveness.ts).
   */
  consentEpochs?: Record<string, number>;
  createdAt: number;
  updatedAt: number;
}

/**
 * What stays of a retired grant (unlink, re-link, admin revocation) for a retention window: who
 * held it, when and why it was revoked, and by whom. No secret field.
 */
export interface GrantTombstone {
  grantId: string;
  userId: string;
  provider: string;
  upstreamSubject: string;
  status: 'revoked';
  /** Epoch ms. */
  revokedAt: number;
  /** `unlinked`, `relinked`, or the security team's stated reason. */
  reason: string;
  /** The identity that acted: the user, or the admin. */
  revokedBy: string;
  /** Whether the user or the security team (admin API) revoked it. */
  revokedByRole: 'user' | 'admin';
}

/** Filter for admin listing; every field optional and ANDed. */
export interface GrantFilter {
  userId?: string;
  provider?: string;
  status?: GrantStatus;
  /** Grants where this agent has any consented operation. */
  agent?: string;
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
   * Resolves once the configured number of replicas hold every write made so far on this grant
   * (Redis `WAIT`, src/store/redis/replicas.ts); rejects with StoreUnavailableError when they do
   * not in time. A rotated refresh token is released to nothing before this resolves.
   */
  replicated(id: string): Promise<void>;
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
  /** Delete the grant and every key that hangs off it (cached access token). Returns false if absent. Its tombstone stays. */
  delete(id: string): Promise<boolean>;
  /**
   * Retirement's first step, atomic: status `revoked` (version bumped) and the grant's tombstone,
   * kept `ttlMs`. Returns the new version, or null (and nothing written) when the grant is gone.
   */
  markRevoked(id: string, tombstone: GrantTombstone, ttlMs: number): Promise<number | null>;
  /** The tombstone of a grant id, while it is kept. */
  getTombstone(id: string): Promise<GrantTombstone | null>;
  /** One user's tombstones, by grant id (consent pages). */
  tombstonesByUser(userId: string): Promise<GrantTombstone[]>;
  /** Tombstones in grant id order, paged like list(); `status` and `agent` are not tombstone fields: callers decide. */
  listTombstones(filter: Pick<GrantFilter, 'userId' | 'provider'>, limit: number, cursor?: string): Promise<Page<GrantTombstone>>;
}
