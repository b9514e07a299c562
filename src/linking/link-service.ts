/**
 * What linking does to grants, apart from HTTP: completing a link (new grant
 * or replacement of the same upstream account), saving consent, and
 * unlinking with RFC 7009 revocation upstream. Every change is audited before
 * it is made (docs/architecture.md#security-properties), and no token value reaches the audit trail.
 */
import { randomBytes } from 'node:crypto';
import type { AuditWriter } from '../audit/events.js';
import type { Envelope } from '../crypto/envelope.js';
import { sealAccessToken, sealRefreshToken } from '../grants/secrets.js';
import type { ProviderCatalog } from '../providers/catalog.js';
import {
  UpstreamFailure,
  UpstreamInvalidGrant,
  type AuthorizationRequest,
  type CodeExchangeChecks,
  type UpstreamOAuth,
  type UpstreamTokens,
} from '../providers/upstream-oauth.js';
import type { Grant } from '../store/grant-store.js';
import type { Actor, GrantRetirement, RevocationOutcome } from '../grants/retire.js';
import type { Stores } from '../store/stores.js';
import { pageErrors } from './pages/page-error.js';

export interface LinkServiceDeps {
  stores: Stores;
  envelope: Envelope;
  catalog: ProviderCatalog;
  upstream: UpstreamOAuth;
  audit: AuditWriter;
  /** Retires a grant: shared with the admin API's revocation. */
  retirement: GrantRetirement;
  now?: () => number;
}

/** The cached access token lives a little less than the token itself. */
const ACCESS_TOKEN_MARGIN_MS = 30_000;

export class LinkService {
  private readonly now: () => number;

  constructor(private readonly deps: LinkServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The provider's authorization URL for a new link (PKCE S256, state, nonce when OIDC). */
  async authorizationUrl(providerId: string, request: AuthorizationRequest): Promise<URL> {
    return this.deps.upstream.authorizationUrl(providerId, request).catch((err: unknown) => {
      throw upstreamPageError(err, 'authorization request');
    });
  }

  /**
   * Redeem the code, store a new grant, then retire any earlier grant of the
   * same upstream account (its consent carries over). The new grant exists
   * before the old one is revoked, so the user is never left without a link.
   */
  async completeLink(actor: Actor, providerId: string, callbackUrl: URL, checks: CodeExchangeChecks): Promise<'linked' | 'relinked'> {
    const { stores, envelope, upstream, audit, catalog } = this.deps;
    const provider = catalog.provider(providerId);
    if (!provider) throw pageErrors.unknownProvider();
    const tokens = await upstream.exchangeCode(providerId, callbackUrl, checks).catch((err: unknown) => {
      throw upstreamPageError(err, 'code exchange');
    });
    const refreshToken = tokens.refreshToken;
    if (!refreshToken) {
      await upstream.revoke(providerId, tokens.accessToken, 'access_token').catch(() => undefined);
      throw pageErrors.noRefreshToken();
    }
    const subject = tokens.subject ?? (await this.subjectByIntrospection(providerId, tokens));
    if (!subject) {
      await upstream.revoke(providerId, refreshToken, 'refresh_token').catch(() => undefined);
      throw pageErrors.noSubject();
    }
    const previous = (await stores.grants.listByUser(actor.userId))
      .filter((g) => g.provider === providerId && g.upstreamSubject === subject)
      .sort((a, b) => b.updatedAt - a.updatedAt);
    const carried = previous.find((g) => g.status !== 'revoked')?.consent ?? {};
    const now = this.now();
    const ref = { id: randomBytes(18).toString('base64url'), userId: actor.userId, provider: providerId };
    const grant: Grant = {
      ...ref,
      upstreamSubject: subject,
      ...(tokens.instanceUrl ? { instanceUrl: tokens.instanceUrl } : {}),
      scopes: tokens.scopes ?? provider.scopes,
      status: 'active',
      refreshToken: sealRefreshToken(envelope, ref, refreshToken),
      version: 1,
      consent: carried,
      createdAt: now,
      updatedAt: now,
    };
    const action = previous.length > 0 ? 'grant.relink' : 'grant.link';
    try {
      await audit.record({
        action,
        decision: 'allow',
        user: actor.userId,
        actor: actor.userId,
        provider: providerId,
        grant: grant.id,
        requestId: actor.requestId,
        details: { replaces: previous.length },
      });
      await stores.grants.create(grant);
    } catch (err) {
      // Nothing was stored: do not leave an orphaned approval at the provider.
      await upstream.revoke(providerId, refreshToken, 'refresh_token').catch(() => undefined);
      throw err;
    }
    const ttl = tokens.expiresAt - now - ACCESS_TOKEN_MARGIN_MS;
    if (ttl > 0) {
      const entry = { ciphertext: sealAccessToken(envelope, ref, tokens.accessToken), expiresAt: tokens.expiresAt, grantVersion: grant.version };
      await stores.tokens.cacheAccessToken(grant.id, entry, ttl).catch(() => undefined);
    }
    for (const old of previous) await this.deps.retirement.retire(actor, old);
    return previous.length > 0 ? 'relinked' : 'linked';
  }

  /** Replace the consent of every agent in `selection` (agent id -> operations), audited per agent. */
  async saveConsent(actor: Actor, grant: Grant, selection: ReadonlyMap<string, string[]>): Promise<void> {
    const { stores } = this.deps;
    for (const [agent, operations] of selection) {
      const before = [...(grant.consent[agent] ?? [])].sort();
      const after = [...operations].sort();
      if (before.join(' ') === after.join(' ')) continue;
      await this.recordConsent(actor, grant, agent, { operations: after.join(' ') || '(none)' });
      if (!(await stores.grants.setConsent(grant.id, agent, after))) throw pageErrors.unknownGrant('grant vanished during consent');
    }
  }

  /**
   * Withdraw one agent's consent on a grant; every other agent keeps its own.
   * The agent's outstanding operation tokens die with the consent, because a
   * token is honoured only while its grant still consents to it
   * (grants/liveness.ts). Audited with the user as actor before the
   * change. Returns false when the agent held no consent (nothing to change,
   * nothing audited).
   */
  async revokeAgent(actor: Actor, grant: Grant, agent: string): Promise<boolean> {
    const before = grant.consent[agent] ?? [];
    if (before.length === 0) return false;
    await this.recordConsent(actor, grant, agent, { operations: '(none)', revoked: [...before].sort().join(' ') }, 'agent_revoked');
    if (!(await this.deps.stores.grants.setConsent(grant.id, agent, []))) throw pageErrors.unknownGrant('grant vanished during agent revocation');
    return true;
  }

  /** The audit record of a consent change by the user (before the change is made). */
  private async recordConsent(actor: Actor, grant: Grant, agent: string, details: Record<string, string>, reason?: string): Promise<void> {
    await this.deps.audit.record({
      action: 'grant.consent',
      decision: 'allow',
      ...(reason !== undefined && { reason }),
      user: actor.userId,
      actor: actor.userId,
      agent,
      provider: grant.provider,
      grant: grant.id,
      requestId: actor.requestId,
      details,
    });
  }

  /** Unlink: unusable at once, revoked upstream, deleted (or kept revoked until the retry succeeds). */
  async unlink(actor: Actor, grant: Grant): Promise<RevocationOutcome> {
    await this.deps.audit.record({
      action: 'grant.unlink',
      decision: 'allow',
      user: actor.userId,
      actor: actor.userId,
      provider: grant.provider,
      grant: grant.id,
      requestId: actor.requestId,
    });
    return this.deps.retirement.retire(actor, grant);
  }

  private async subjectByIntrospection(providerId: string, tokens: UpstreamTokens): Promise<string | undefined> {
    const info = await this.deps.upstream.introspect(providerId, tokens.accessToken).catch(() => undefined);
    return info?.active ? info.sub : undefined;
  }
}

/** Map an upstream failure to a page error whose text says nothing was changed. */
export function upstreamPageError(err: unknown, step: string): Error {
  if (err instanceof UpstreamFailure && err.reason === 'timeout') return pageErrors.providerTimeout(`${step}: timeout`);
  if (err instanceof UpstreamInvalidGrant) return pageErrors.providerRefused(`${step}: invalid_grant`);
  if (err instanceof UpstreamFailure) return pageErrors.providerFailed(`${step}: ${err.reason}`);
  // openid-client's own checks (state, iss, PKCE, nonce) throw their own errors.
  const code = (err as { code?: unknown }).code;
  return pageErrors.providerFailed(`${step}: ${typeof code === 'string' ? code : 'rejected'}`);
}
