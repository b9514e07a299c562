/**
 * What the upstream-access service (upstream-access.ts) hands out and reports: the access a caller
 * gets, the refusal that sends the user back to the consent page, its options, and the refresh
 * outcomes it audits (RFC 6749 §6) and counts.
 */
import type { AuditWriter } from '../audit/events.js';
import { AccessDenied } from '../errors.js';
import type { Grant } from '../store/grant-store.js';
import type { WebhookEmitter } from '../webhooks/events.js';
import type { RotationSpool } from '../store/rotation-spool.js';

export interface UpstreamAccess {
  accessToken: string;
  /** Epoch ms. */
  expiresAt: number;
  instanceUrl?: string;
}

/**
 * The grant can no longer be refreshed without the user (upstream invalid_grant, a lost
 * rotation, or parked by a peer). The caller answers consent_required with its own deep link.
 */
export class GrantNeedsConsent extends Error {
  override name = 'GrantNeedsConsent';
  readonly code = 'TV_GRANT_NEEDS_CONSENT';
}

/** Why a grant that stopped being active during a refresh cannot serve: gone or revoked, else parked. */
export function inactiveGrantError(grant: Grant | null, gone: boolean): Error {
  if (gone || !grant || grant.status === 'revoked') return new AccessDenied('grant revoked or gone during refresh');
  return new GrantNeedsConsent('grant parked as consent_required during refresh');
}

export interface UpstreamAccessOptions {
  /** A cached token is used only while it has at least this much life left. */
  marginMs?: number;
  /** How often a replica waiting on another replica's refresh re-reads the cache. */
  pollMs?: number;
  /** Extra lock life beyond the holder's worst-case refresh duration. */
  lockMarginMs?: number;
  now?: () => number;
  /** Told of cache lookups and refresh attempts (the app's metrics); never of token values. */
  metrics?: UpstreamAccessMetrics;
  /** Told when this service parks or quarantines a grant (`grant.needs_relink`). */
  webhooks?: WebhookEmitter;
  /** Where rotated refresh tokens wait for the store (src/store/rotation-spool.ts); default in memory only. */
  spool?: RotationSpool;
  /** A rotation that could not be spooled, replayed or kept (ids only, never secrets). */
  onRotationProblem?: (what: string, grantId?: string) => void;
}

export interface UpstreamAccessMetrics {
  cacheLookup(provider: string, hit: boolean): void;
  refreshed(provider: string, outcome: RefreshOutcome['outcome'], seconds: number): void;
}

/**
 * Reported for each upstream refresh attempt, and once when a grant is quarantined because a
 * ciphertext of it failed to open (`integrity_error`, reason = the envelope error's code). For audit;
 * never carries token values.
 */
export type RefreshOutcome = {
  grant: Pick<Grant, 'id' | 'userId' | 'provider'>;
  outcome: 'refreshed' | 'rotated' | 'invalid_grant' | 'failed' | 'lost_race' | 'integrity_error';
  reason?: string;
};

/**
 * One `upstream.refresh` audit record per attempt, awaited before anything derived is returned; a
 * quarantine is one `grant.integrity` alert instead.
 */
export function auditRefresh(audit: AuditWriter): (event: RefreshOutcome) => Promise<void> {
  return async ({ grant, outcome, reason }) => {
    if (outcome === 'integrity_error') {
      await audit.record({
        action: 'grant.integrity',
        decision: 'error',
        reason: `ciphertext failed to open: ${reason ?? 'unknown'}`,
        user: grant.userId,
        provider: grant.provider,
        grant: grant.id,
      });
      return;
    }
    await audit.record({
      action: 'upstream.refresh',
      decision: outcome === 'refreshed' || outcome === 'rotated' ? 'allow' : outcome === 'failed' ? 'error' : 'deny',
      reason: reason ? `${outcome}: ${reason}` : outcome,
      user: grant.userId,
      provider: grant.provider,
      grant: grant.id,
    });
  };
}
