/**
 * The upstream access token of a grant: from the encrypted per-grant cache,
 * or refreshed under a single flight.
 *
 * Single flight has two layers: in-process coalescing (one promise per grant)
 * and a Redis owner-token lock across replicas. The lock only saves upstream
 * calls; safety comes from the compare-and-set on the grant version in
 * `commitRefresh`: a holder that outlived its lock cannot overwrite a newer
 * refresh token, and its result is discarded. The lock TTL exceeds the
 * longest possible refresh (token call + Salesforce introspection, each with
 * the provider's timeout), so a live holder's call always ends first.
 *
 * A rotated refresh token is committed before anything derived from it is
 * cached or returned (RFC 6749 §6: a new refresh token replaces the old one), and never dropped
 * when the store does not answer (rotations.ts). A refresh whose response was lost is
 * never retried: replaying a rotated refresh token revokes the upstream grant.
 */
import { TemporarilyUnavailable, UpstreamError } from '../errors.js';
import { EnvelopeError, type Envelope } from '../crypto/envelope.js';
import { openAccessToken, openRefreshToken, sealAccessToken, type GrantRef } from './secrets.js';
import type { ProviderCatalog } from '../providers/catalog.js';
import { UpstreamFailure, UpstreamInvalidGrant, type UpstreamOAuth } from '../providers/upstream-oauth.js';
import { MemoryRotationSpool } from '../store/rotation-spool.js';
import { type CachedAccessToken } from '../store/token-store.js';
import { type Grant } from '../store/grant-store.js';
import { type Stores } from '../store/stores.js';
import { span } from '../tracing/span.js';
import { Rotations, type LockHold } from './rotations.js';
import {
  GrantNeedsConsent,
  inactiveGrantError,
  type RefreshOutcome,
  type UpstreamAccess,
  type UpstreamAccessMetrics,
  type UpstreamAccessOptions,
} from './upstream-access-types.js';
import { noWebhooks, type RelinkReason, type WebhookEmitter } from '../webhooks/events.js';

export { auditRefresh, GrantNeedsConsent } from './upstream-access-types.js';
export type { RefreshOutcome, UpstreamAccess, UpstreamAccessMetrics, UpstreamAccessOptions } from './upstream-access-types.js';

const OPENED_MAX_ENTRIES = 10_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class UpstreamAccessTokens {
  readonly #inflight = new Map<string, Promise<UpstreamAccess>>();
  /**
   * The last ciphertext opened per grant and its plaintext. The shared cache stays the source of
   * truth (read on every exchange); this only skips re-opening the exact same ciphertext (unique
   * per seal), which is most of the cost of a cache hit.
   */
  readonly #opened = new Map<string, { ciphertext: string; accessToken: string }>();
  /**
   * Per grant, the refresh-token ciphertext last opened successfully: a grant is checked on every
   * use, also when its cached access token serves, at the cost of one open per ciphertext.
   */
  readonly #verified = new Map<string, string>();
  readonly #marginMs: number;
  readonly #pollMs: number;
  readonly #lockMarginMs: number;
  readonly #now: () => number;
  readonly #metrics: UpstreamAccessMetrics | undefined;
  readonly #webhooks: WebhookEmitter;
  /** Rotated refresh tokens until the store holds them: replayed at start, settled at shutdown (app.ts). */
  readonly rotations: Rotations;

  constructor(
    private readonly stores: Pick<Stores, 'grants' | 'tokens' | 'locks'>,
    private readonly envelope: Envelope,
    private readonly catalog: ProviderCatalog,
    private readonly upstream: UpstreamOAuth,
    options: UpstreamAccessOptions = {},
    /** Awaited (audit before answer): when it rejects, nothing derived from the refresh is returned. */
    private readonly onRefresh: (event: RefreshOutcome) => Promise<void> = async () => {},
  ) {
    this.#marginMs = options.marginMs ?? 30_000;
    this.#pollMs = options.pollMs ?? 25;
    this.#lockMarginMs = options.lockMarginMs ?? 2_000;
    this.#now = options.now ?? Date.now;
    this.#metrics = options.metrics;
    this.#webhooks = options.webhooks ?? noWebhooks;
    const { grants, locks } = stores;
    const replayed = (grant: GrantRef) => onRefresh({ grant, outcome: 'rotated', reason: 'replayed from the spool' });
    const spool = options.spool ?? new MemoryRotationSpool();
    this.rotations = new Rotations({ grants, locks, envelope, spool, replayed, ...(options.onRotationProblem && { problem: options.onRotationProblem }) });
  }

  /**
   * Starts reading a grant's cached upstream token, for get() once the grant itself has
   * been read (GrantPolicy.selectWith issues it right behind the grant read).
   */
  prefetch(grantId: string): Promise<CachedAccessToken | null> {
    const entry = this.stores.tokens.getAccessToken(grantId);
    // Unused when the grant turns out to be denied: its failure must not become an unhandled rejection.
    entry.catch(() => {});
    return entry;
  }

  /** A usable access token for an active grant; `prefetched`: prefetch(grant.id), read after the grant. */
  async get(grant: Grant, prefetched?: Promise<CachedAccessToken | null>): Promise<UpstreamAccess> {
    if (this.#verified.get(grant.id) !== grant.refreshToken) await this.#verify(grant);
    const cached = await this.#cached(grant, prefetched);
    this.#metrics?.cacheLookup(grant.provider, cached !== null);
    if (cached) return cached;
    let flight = this.#inflight.get(grant.id);
    if (!flight) {
      this.#assertNoPendingRotation(grant.id);
      const ids = { 'vault.provider': grant.provider, 'vault.grant': grant.id };
      flight = span('upstream.refresh', () => this.#refreshAcrossReplicas(grant), ids).finally(() => this.#inflight.delete(grant.id));
      this.#inflight.set(grant.id, flight);
    }
    return flight;
  }

  /**
   * The provider refused `rejected` (401) although it still had life: forget it and get a new
   * one through the same single flight (/forward retries once with it).
   */
  async replaceRejected(grant: Grant, rejected: string): Promise<UpstreamAccess> {
    await this.forgetRejected(grant, rejected);
    return this.get(grant);
  }

  /**
   * Drops the cached token only while it is still `rejected`, so a peer's fresh token survives.
   * Read then drop is not atomic: a peer's token cached in between can be dropped too, which
   * costs one extra refresh, never correctness (refreshes are fenced by the grant version).
   */
  async forgetRejected(grant: Grant, rejected: string): Promise<void> {
    if (this.#opened.get(grant.id)?.accessToken === rejected) this.#opened.delete(grant.id);
    const entry = await this.stores.tokens.getAccessToken(grant.id);
    if (entry && (await this.#open(grant, () => openAccessToken(this.envelope, grant, entry.ciphertext))) === rejected) {
      await this.stores.tokens.dropAccessToken(grant.id);
    }
  }

  /** Worst case of one refresh: token call plus an introspection, each bounded by the provider timeout. */
  lockTtlMs(grant: Grant): number {
    const provider = this.catalog.provider(grant.provider);
    return 2 * (provider?.timeoutMs ?? 5_000) + this.#lockMarginMs;
  }

  async #cached(grant: Grant, prefetched?: Promise<CachedAccessToken | null>): Promise<UpstreamAccess | null> {
    // Always the shared cache: a token dropped there (revoked upstream) must not live on in one replica.
    const entry = await (prefetched ?? this.stores.tokens.getAccessToken(grant.id));
    if (!entry || entry.expiresAt - this.#marginMs <= this.#now()) return null;
    const opened = this.#opened.get(grant.id);
    if (opened?.ciphertext === entry.ciphertext) return this.#access(grant, opened.accessToken, entry.expiresAt);
    const accessToken = await this.#open(grant, () => openAccessToken(this.envelope, grant, entry.ciphertext));
    if (this.#opened.size >= OPENED_MAX_ENTRIES) this.#opened.delete(this.#opened.keys().next().value!);
    this.#opened.set(grant.id, { ciphertext: entry.ciphertext, accessToken });
    return this.#access(grant, accessToken, entry.expiresAt);
  }

  #access(grant: Grant, accessToken: string, expiresAt: number, instanceUrl?: string): UpstreamAccess {
    const url = instanceUrl ?? grant.instanceUrl;
    return { accessToken, expiresAt, ...(url ? { instanceUrl: url } : {}) };
  }

  async #refreshAcrossReplicas(grant: Grant): Promise<UpstreamAccess> {
    const lockName = `refresh:${grant.id}`;
    const ttl = this.lockTtlMs(grant);
    // A waiter gives up a little after the longest a holder may keep the lock.
    const deadline = this.#now() + ttl + this.#lockMarginMs;
    for (;;) {
      const owner = await this.stores.locks.acquire(lockName, ttl);
      if (owner) {
        const lock: LockHold = { name: lockName, owner, ttlMs: ttl };
        try {
          const result = await this.#refreshHoldingLock(grant.id, lock);
          if (result) return result;
          // A peer committed first (we lost the version race): read its result.
        } finally {
          if (!lock.handedOver) await this.stores.locks.release(lockName, owner).catch(() => false);
        }
      } else {
        await sleep(this.#pollMs);
      }
      const current = await this.stores.grants.get(grant.id);
      if (!current || current.status !== 'active') throw inactiveGrantError(current ?? grant, current === null);
      const cached = await this.#cached(current);
      if (cached) return cached;
      if (this.#now() > deadline) throw new TemporarilyUnavailable('upstream refresh held by another replica');
    }
  }

  /** Returns null when a peer's newer commit makes this attempt moot. */
  async #refreshHoldingLock(grantId: string, lock: LockHold): Promise<UpstreamAccess | null> {
    this.#assertNoPendingRotation(grantId);
    // Re-read after acquiring: a peer may have refreshed while we waited.
    const grant = await this.stores.grants.get(grantId);
    if (!grant || grant.status !== 'active') throw inactiveGrantError(grant, grant === null);
    const cached = await this.#cached(grant);
    if (cached) return cached;

    const started = performance.now();
    const report = (event: RefreshOutcome) => {
      this.#metrics?.refreshed(grant.provider, event.outcome, (performance.now() - started) / 1000);
      return this.onRefresh(event);
    };
    let tokens;
    try {
      const refreshToken = await this.#open(grant, () => openRefreshToken(this.envelope, grant));
      tokens = await span('upstream.token-request', () => this.upstream.refresh(grant.provider, refreshToken));
    } catch (err) {
      if (err instanceof UpstreamFailure) {
        await report({ grant, outcome: 'failed', reason: err.reason });
        if (err.reason === 'unavailable') throw new TemporarilyUnavailable('upstream token endpoint unavailable (5xx)');
        // Never connected: the refresh token was not presented, so it is still the current one.
        if (err.reason === 'unreachable') throw new TemporarilyUnavailable('upstream token endpoint unreachable');
        if (err.reason === 'timeout' || err.reason === 'network') {
          // The provider may have processed the refresh and rotated the token whose answer we lost;
          // presenting the old one again would trip reuse detection and revoke the upstream grant.
          // Never retried: the grant needs the user to re-link.
          await this.#park(grant, 'refresh_answer_lost');
          throw new UpstreamError(`upstream refresh answer lost (${err.reason}); grant parked as consent_required`);
        }
        throw new UpstreamError(`upstream refresh failed: ${err.reason}`);
      }
      if (!(err instanceof UpstreamInvalidGrant)) throw err;
      const now = await this.stores.grants.get(grantId);
      if (now && now.version !== grant.version) {
        await report({ grant, outcome: 'lost_race' });
        return null;
      }
      await report({ grant, outcome: 'invalid_grant' });
      await this.#park(grant, 'invalid_grant');
      throw new GrantNeedsConsent('upstream invalid_grant: grant needs re-linking');
    }

    const cache = async (version: number) => {
      const ttl = tokens.expiresAt - this.#marginMs - this.#now();
      if (ttl <= 0) return;
      const ciphertext = sealAccessToken(this.envelope, grant, tokens.accessToken);
      await this.stores.tokens.cacheAccessToken(grantId, { ciphertext, expiresAt: tokens.expiresAt, grantVersion: version }, ttl);
    };
    let version = grant.version;
    if (tokens.refreshToken) {
      const afterPersist = async (committed: number) => {
        await report({ grant, outcome: 'rotated' });
        await cache(committed).catch(() => {});
      };
      const rotation = await this.rotations.commit({ grant, refreshToken: tokens.refreshToken, lock, afterPersist });
      if (rotation.state === 'lost_race') {
        await report({ grant, outcome: 'lost_race' });
        return null;
      }
      if (rotation.state === 'pending') throw new TemporarilyUnavailable('rotated refresh token kept until the store answers');
      version = rotation.version;
    }
    await report({ grant, outcome: tokens.refreshToken ? 'rotated' : 'refreshed' });
    await cache(version);
    return this.#access(grant, tokens.accessToken, tokens.expiresAt, tokens.instanceUrl);
  }

  /** A grant whose rotated refresh token is not yet persisted never presents the spent one: 503 until it is. */
  #assertNoPendingRotation(grantId: string): void {
    if (this.rotations.has(grantId)) throw new TemporarilyUnavailable('rotated refresh token not yet persisted');
  }

  async #verify(grant: Grant): Promise<void> {
    await this.#open(grant, () => openRefreshToken(this.envelope, grant));
    if (this.#verified.size >= OPENED_MAX_ENTRIES) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(grant.id, grant.refreshToken);
  }

  /**
   * Opens one of the grant's ciphertexts. One that fails to open (tampered, copied from another
   * record, or under a key no longer held) quarantines the grant: status `integrity_error` through
   * the version compare-and-set, so exactly one caller moves it and writes the one alert. It is
   * never retried and nothing goes upstream; the user links the account again.
   */
  async #open(grant: Grant, open: () => string): Promise<string> {
    try {
      return open();
    } catch (err) {
      if (!(err instanceof EnvelopeError)) throw err;
      if ((await this.stores.grants.setStatus(grant.id, 'integrity_error', grant.version)) !== null) {
        this.#opened.delete(grant.id);
        this.#verified.delete(grant.id);
        await this.onRefresh({ grant, outcome: 'integrity_error', reason: err.name });
        await this.#relinkNeeded(grant, 'integrity_error');
        throw new GrantNeedsConsent('grant quarantined: a ciphertext failed to open');
      }
      // The version moved: a peer quarantined it, or committed a refresh we did not see.
      const current = await this.stores.grants.get(grant.id);
      if (current?.status === 'integrity_error') throw new GrantNeedsConsent('grant quarantined by a peer');
      throw new TemporarilyUnavailable('grant changed while opening its ciphertext');
    }
  }

  /** Parks the grant as consent_required; only the caller whose compare-and-set moved it reports it. */
  async #park(grant: Grant, reason: RelinkReason): Promise<void> {
    if ((await this.stores.grants.setStatus(grant.id, 'consent_required', grant.version)) !== null) await this.#relinkNeeded(grant, reason);
  }

  #relinkNeeded(grant: Grant, reason: RelinkReason): Promise<void> {
    return this.#webhooks.emit({ type: 'grant.needs_relink', data: { grant: grant.id, user: grant.userId, provider: grant.provider, reason } });
  }
}
