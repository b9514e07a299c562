/**
 * The link flow, apart from HTTP (RFC 6749 §4.1 with PKCE S256, RFC 7636):
 * `begin` issues a single-use `state` bound to the browser session, user and
 * provider, with a PKCE verifier and, for OIDC providers, a nonce; `complete`
 * takes that state back, redeems the code with its PKCE verifier
 * (openid-client checks state, the RFC 9207 `iss` when sent, and the ID
 * token's nonce; the provider checks the verifier), stores the new grant, then
 * retires any earlier grant of the same upstream account. Every change is
 * audited before it is made, and no token value reaches the audit trail.
 * Failures are LinkErrors (errors.ts).
 */
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import type { AuditWriter } from '../audit/events.js';
import type { Envelope } from '../crypto/envelope.js';
import type { Actor, GrantRetirement } from '../grants/retire.js';
import { sealAccessToken, sealRefreshToken } from '../grants/secrets.js';
import type { Operation, Provider, ProviderCatalog } from '../providers/catalog.js';
import { allowedInstanceUrl } from '../providers/instance-url.js';
import { UpstreamFailure, UpstreamInvalidGrant, type UpstreamOAuth, type UpstreamTokens } from '../providers/upstream-oauth.js';
import type { Grant } from '../store/grant-store.js';
import type { Stores } from '../store/stores.js';
import { askedFor, consentedOperations, linkScopes } from './ceiling.js';
import { LinkError } from './errors.js';
import { LinkStates, type LinkSession, type PendingLink } from './link-state.js';

export interface LinkServiceDeps {
  stores: Stores;
  envelope: Envelope;
  catalog: ProviderCatalog;
  upstream: UpstreamOAuth;
  audit: AuditWriter;
  /** Retires a grant: shared with the admin API's revocation. */
  retirement: GrantRetirement;
  /** Origin of the consent pages: the redirect URIs are its `/connections/{provider}/callback`. */
  publicUrl: string;
  /** Lifetime of a link `state` (config `linking.stateTtlSeconds`, at most 10 minutes). */
  stateTtlSeconds: number;
  now?: () => number;
}

/** What the agent asked for on the deep link the user came from (kept only inside the admin ceiling). */
export interface ConsentRequest {
  agent?: string | undefined;
  operation?: string | undefined;
}

/** A link's request, and for a re-link asking for more scopes, the consent change to make once it succeeds. */
export interface LinkRequest extends ConsentRequest {
  approve?: boolean;
  choices?: ReadonlyArray<{ agent: string; operation: string }>;
}

export interface LinkOutcome {
  result: 'linked' | 'relinked';
  /** The new grant. */
  grantId: string;
  /** The deep link's request that began this link, to show again. */
  request: ConsentRequest;
  /** The consent change that waited for this link (LinkRequest). */
  approve: boolean;
  choices?: Array<{ agent: string; operation: string }>;
}

/** The cached access token lives a little less than the token itself. */
const ACCESS_TOKEN_MARGIN_MS = 30_000;

export const callbackUri = (publicUrl: string, providerId: string) => new URL(`/connections/${encodeURIComponent(providerId)}/callback`, publicUrl).href;

export class LinkService {
  private readonly now: () => number;
  private readonly states: LinkStates;

  constructor(private readonly deps: LinkServiceDeps) {
    this.now = deps.now ?? Date.now;
    this.states = new LinkStates(deps.stores.oneShot, deps.stateTtlSeconds * 1000, this.now);
  }

  /** Start a link: the provider's authorization URL, with its state stored single-use for this session. */
  async begin(session: LinkSession, providerId: string, linkRequest: LinkRequest = {}): Promise<{ redirect: URL; scopes: string[] }> {
    const provider = this.provider(providerId);
    const asked = askedFor(this.deps.catalog, provider.id, linkRequest.agent, linkRequest.operation);
    const choices = linkRequest.choices?.map(({ agent, operation }) => ({ agent, operation }));
    const scopes = await this.scopesFor(session.userId, provider, [...(asked ? [asked.operation.name] : []), ...(choices ?? []).map((c) => c.operation)]);
    const state = LinkStates.newState();
    const pending: PendingLink = {
      provider: provider.id,
      codeVerifier: oidc.randomPKCECodeVerifier(),
      ...(provider.kind === 'oidc' || provider.scopes.includes('openid') ? { nonce: oidc.randomNonce() } : {}),
      ...(asked ? { agent: asked.agent.id, operation: asked.operation.name } : {}),
      scopes,
      ...(asked && linkRequest.approve ? { approve: true as const } : {}),
      ...(choices ? { choices } : {}),
    };
    const redirect = await this.deps.upstream
      .authorizationUrl(provider.id, {
        state,
        codeVerifier: pending.codeVerifier,
        redirectUri: callbackUri(this.deps.publicUrl, provider.id),
        scope: scopes.join(' '),
        ...(pending.nonce ? { nonce: pending.nonce } : {}),
      })
      .catch((err: unknown) => {
        throw upstreamLinkError(err, 'authorization request');
      });
    await this.states.save(state, session, pending);
    return { redirect, scopes };
  }

  /**
   * Incremental authorization: ask only for what the user's live grants of
   * this provider are already consented to, plus the operations this link is
   * for. The new grant replaces the old one (storeGrant), so an operation that
   * needs more scopes later is a re-link with the larger set.
   */
  private async scopesFor(userId: string, provider: Provider, operations: string[]): Promise<string[]> {
    const { catalog, stores } = this.deps;
    const live = (await stores.grants.listByUser(userId)).filter((g) => g.provider === provider.id && g.status !== 'revoked');
    const wanted = new Set([...live.flatMap((g) => consentedOperations(catalog, g)), ...operations.map((name) => catalog.operation(name))]);
    return linkScopes(
      provider,
      [...wanted].filter((op): op is Operation => op?.provider === provider.id),
    );
  }

  /**
   * Finish a link from the provider's redirect to `callbackUrl`. The state is
   * taken (single use) before anything else is looked at, so a callback that
   * fails any check cannot be replayed.
   */
  async complete(session: LinkSession, providerId: string, callbackUrl: URL, requestId: string): Promise<LinkOutcome> {
    const provider = this.provider(providerId);
    const state = callbackUrl.searchParams.get('state');
    if (!state) throw new LinkError('TV_LINK_STATE_MISSING');
    const pending = await this.states.take(state, session, provider.id);
    if (callbackUrl.searchParams.get('error')) throw new LinkError('TV_LINK_PROVIDER_REFUSED', 'provider returned an error response');
    const tokens = await this.deps.upstream
      .exchangeCode(provider.id, callbackUrl, {
        redirectUri: callbackUri(this.deps.publicUrl, provider.id),
        codeVerifier: pending.codeVerifier,
        state,
        ...(pending.nonce ? { nonce: pending.nonce } : {}),
      })
      .catch((err: unknown) => {
        throw upstreamLinkError(err, 'code exchange');
      });
    const { result, grantId } = await this.storeGrant({ userId: session.userId, requestId }, provider, tokens, pending.scopes ?? provider.scopes);
    return {
      result,
      grantId,
      request: { agent: pending.agent, operation: pending.operation },
      approve: pending.approve === true,
      ...(pending.choices ? { choices: pending.choices } : {}),
    };
  }

  private provider(id: string): Provider {
    const provider = this.deps.catalog.provider(id);
    if (!provider) throw new LinkError('TV_LINK_UNKNOWN_PROVIDER');
    return provider;
  }

  /**
   * Store a new grant, then retire any earlier grant of the same upstream
   * account (its consent carries over). The new grant exists before the old
   * one is revoked, so the user is never left without a link.
   */
  private async storeGrant(
    actor: Actor,
    provider: Provider,
    tokens: UpstreamTokens,
    asked: string[],
  ): Promise<{ result: 'linked' | 'relinked'; grantId: string }> {
    const { stores, envelope, upstream, audit } = this.deps;
    const providerId = provider.id;
    const refreshToken = tokens.refreshToken;
    if (!refreshToken) {
      await upstream.revoke(providerId, tokens.accessToken, 'access_token').catch(() => undefined);
      throw new LinkError('TV_LINK_NO_REFRESH_TOKEN');
    }
    if (tokens.instanceUrl !== undefined && !allowedInstanceUrl(provider, tokens.instanceUrl)) {
      // The grant's token would later be sent there: refuse to store it, and leave no approval behind.
      await upstream.revoke(providerId, refreshToken, 'refresh_token').catch(() => undefined);
      await upstream.revoke(providerId, tokens.accessToken, 'access_token').catch(() => undefined);
      throw new LinkError('TV_LINK_PROVIDER_FAILED', 'instance_url outside the provider hosts');
    }
    const subject = tokens.subject ?? (await this.subjectByIntrospection(providerId, tokens));
    if (!subject) {
      await upstream.revoke(providerId, refreshToken, 'refresh_token').catch(() => undefined);
      throw new LinkError('TV_LINK_NO_SUBJECT');
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
      // RFC 6749 §5.1: a response without `scope` granted what was asked.
      scopes: tokens.scopes ?? asked,
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
    for (const old of previous) await this.deps.retirement.retire(actor, old, 'relinked');
    return { result: previous.length > 0 ? 'relinked' : 'linked', grantId: grant.id };
  }

  private async subjectByIntrospection(providerId: string, tokens: UpstreamTokens): Promise<string | undefined> {
    const info = await this.deps.upstream.introspect(providerId, tokens.accessToken).catch(() => undefined);
    return info?.active ? info.sub : undefined;
  }
}

/** An upstream failure as a link error; every one of them leaves the user's grants as they were. */
function upstreamLinkError(err: unknown, step: string): LinkError {
  if (err instanceof UpstreamFailure && err.reason === 'timeout') return new LinkError('TV_LINK_PROVIDER_TIMEOUT', `${step}: timeout`);
  if (err instanceof UpstreamInvalidGrant) return new LinkError('TV_LINK_PROVIDER_REFUSED', `${step}: invalid_grant`);
  if (err instanceof UpstreamFailure) return new LinkError('TV_LINK_PROVIDER_FAILED', `${step}: ${err.reason}`);
  // openid-client's own checks (state, iss, PKCE, nonce) throw their own errors.
  const code = (err as { code?: unknown }).code;
  return new LinkError('TV_LINK_PROVIDER_FAILED', `${step}: ${typeof code === 'string' ? code : 'rejected'}`);
}
