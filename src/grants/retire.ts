/**
 * The end of a grant's life, shared by unlink, re-link and the admin API: unusable at once,
 * revoked upstream (RFC 7009), then deleted, or kept revoked until the retry worker
 * (grants/revocation-worker.ts) confirms the upstream revocation.
 */
import { randomBytes } from 'node:crypto';
import type { AuditWriter } from '../audit/events.js';
import { EnvelopeError, type Envelope } from '../crypto/envelope.js';
import { UpstreamFailure, UpstreamInvalidGrant, type UpstreamOAuth } from '../providers/upstream-oauth.js';
import type { Grant } from '../store/grant-store.js';
import type { Stores } from '../store/stores.js';
import { noWebhooks, type RevokeReason, type WebhookEmitter } from '../webhooks/events.js';
import { openRefreshToken } from './secrets.js';

/** Who is acting, for audit and the tombstone. */
export interface Actor {
  userId: string;
  requestId: string;
  /** The user on the consent pages (default), or the security team through the admin API. */
  role?: 'user' | 'admin';
}

/** How long a retired grant's tombstone stays listable by default (config `grants.tombstoneRetentionDays`). */
export const DEFAULT_TOMBSTONE_RETENTION_MS = 30 * 86_400_000;

/** How an upstream revocation ended: confirmed, queued for retry, or impossible (no endpoint). */
export type RevocationOutcome = 'revoked' | 'pending' | 'unsupported';

export interface GrantRetirementDeps {
  stores: Stores;
  envelope: Envelope;
  upstream: UpstreamOAuth;
  audit: AuditWriter;
  /** First delay of the revocation retry queue. */
  retry: { baseDelayMs: number };
  /** How long a retired grant's tombstone is kept. */
  tombstoneRetentionMs?: number;
  /** Told once a grant is revoked (`grant.revoked`). */
  webhooks?: WebhookEmitter;
  now?: () => number;
}

export class GrantRetirement {
  private readonly now: () => number;

  constructor(private readonly deps: GrantRetirementDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Make a grant unusable at once (status revoked, which kills its outstanding
   * operation tokens; cached access token dropped), revoke it upstream (RFC 7009; a failure is queued
   * for retry), then delete it, or keep it revoked until the retry succeeds.
   * Shared by unlink, relink and the admin API; `actor.userId` is whoever acts.
   */
  async retire(actor: Actor, grant: Grant, reason = 'unlinked'): Promise<RevocationOutcome> {
    const { stores } = this.deps;
    // Revoked and tombstoned in one step: the grant stays listable (no secret) after it is deleted.
    await stores.grants.markRevoked(
      grant.id,
      {
        grantId: grant.id,
        userId: grant.userId,
        provider: grant.provider,
        upstreamSubject: grant.upstreamSubject,
        status: 'revoked',
        revokedAt: this.now(),
        reason,
        revokedBy: actor.userId,
        revokedByRole: actor.role ?? 'user',
      },
      this.deps.tombstoneRetentionMs ?? DEFAULT_TOMBSTONE_RETENTION_MS,
    );
    // The event names who acted and a fixed reason, never the reason text an admin typed.
    const why: RevokeReason = actor.role === 'admin' ? 'revoked_by_admin' : reason === 'relinked' ? 'relinked' : 'unlinked';
    await (this.deps.webhooks ?? noWebhooks).emit({
      type: 'grant.revoked',
      data: { grant: grant.id, user: grant.userId, provider: grant.provider, reason: why },
    });
    await stores.tokens.dropAccessToken(grant.id);
    const outcome = await this.revokeUpstream(actor, grant);
    if (outcome !== 'pending') await stores.grants.delete(grant.id);
    return outcome;
  }

  /** RFC 7009 revocation of a grant's refresh token; a failure is queued for the retry worker. */
  private async revokeUpstream(actor: Actor, grant: Grant): Promise<RevocationOutcome> {
    const { stores, envelope, upstream, audit, retry } = this.deps;
    let outcome: RevocationOutcome;
    let reason: string | undefined;
    try {
      await upstream.revoke(grant.provider, openRefreshToken(envelope, grant), 'refresh_token');
      outcome = 'revoked';
    } catch (err) {
      // RFC 7009 §2.2: an invalid token counts as revoked.
      if (err instanceof UpstreamInvalidGrant) outcome = 'revoked';
      // A quarantined grant (integrity_error): its refresh token cannot be opened, so it cannot be
      // presented for revocation either, now or on retry. Only the user can remove the app upstream.
      else if (err instanceof EnvelopeError) {
        outcome = 'unsupported';
        reason = 'refresh_token_cannot_open';
      } else if (err instanceof UpstreamFailure && err.reason === 'unsupported') outcome = 'unsupported';
      else {
        outcome = 'pending';
        reason = err instanceof UpstreamFailure ? err.reason : 'error';
      }
    }
    if (outcome === 'pending') {
      const now = this.now();
      await stores.revocations.enqueue({
        id: randomBytes(12).toString('base64url'),
        provider: grant.provider,
        grantId: grant.id,
        userId: grant.userId,
        token: grant.refreshToken,
        hint: 'refresh_token',
        attempts: 1,
        nextAttemptAt: now + retry.baseDelayMs,
        createdAt: now,
        ...(reason ? { lastError: reason } : {}),
      });
    }
    await audit
      .record({
        action: 'upstream.revoke',
        decision: outcome === 'revoked' ? 'allow' : 'error',
        user: grant.userId,
        actor: actor.userId,
        provider: grant.provider,
        grant: grant.id,
        requestId: actor.requestId,
        reason: outcome === 'revoked' ? 'revoked' : outcome === 'unsupported' ? (reason ?? 'no_revocation_endpoint') : `queued_for_retry:${reason ?? 'error'}`,
      })
      // The revocation already happened (or is queued); a lost record must not undo it.
      .catch(() => undefined);
    return outcome;
  }
}
