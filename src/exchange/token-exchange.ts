/**
 * POST /exchange as a service, in the order of docs/architecture.md#post-exchange: (mTLS identity, done by
 * the listener) → parse → verify both JWTs → kill switches → grant + consent
 * + policy → upstream access token → mint + store record → audit → respond.
 *
 * `trail` collects the identities as they are established so a denial can be
 * audited with whatever was known when it happened.
 */
import type { AuditEventInput } from '../audit/events.js';
import type { Approvals } from '../approvals/approval-service.js';
import { ConsentRequired, InvalidRequest, InvalidScope, TemporarilyUnavailable, UpstreamError, assert } from '../errors.js';
import type { SigningKeys } from '../crypto/signing-keys.js';
import type { PeerIdentity } from '../identity/peer-certificate.js';
import type { TokenVerifier } from '../identity/token-verifier.js';
import type { Operation, Provider, ProviderCatalog } from '../providers/catalog.js';
import { allowedInstanceUrl } from '../providers/instance-url.js';
import type { TokenStore } from '../store/token-store.js';
import type { GrantPolicy } from '../grants/policy.js';
import type { KillSwitchCache } from '../kill-switches/cache.js';
import { mintOperationToken } from '../tokens/operation-token.js';
import { TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT, authorizationDetail, boundAction, type AuthorizationDetail } from '../tokens/token-types.js';
import type { CibaPollRequest, ExchangeRequest, IdentityParams } from './request.js';
import { resolveTarget } from './target.js';
import { GrantNeedsConsent, type UpstreamAccessTokens } from '../grants/upstream-access.js';
import { span } from '../tracing/span.js';
import type { Span } from '@opentelemetry/api';

export type ExchangeTrail = Pick<AuditEventInput, 'gateway' | 'agent' | 'user' | 'provider' | 'grant' | 'operation' | 'jti'>;

export interface ExchangeResult {
  body: {
    access_token: string;
    issued_token_type: typeof TOKEN_TYPE_JWT | typeof TOKEN_TYPE_ACCESS_TOKEN;
    token_type: 'Bearer';
    expires_in: number;
    scope: string;
    instance_url?: string;
  };
  /** The released value, for the audit HMAC only. */
  released: string;
  /**
   * The operation token's record being written, started before returning so the
   * caller can write the audit record in the same Redis round trip. Nothing may be
   * released before both have succeeded.
   */
  stored?: Promise<void>;
}

export interface TokenExchangeDeps {
  issuer: string;
  catalog: ProviderCatalog;
  verifier: TokenVerifier;
  killSwitches: KillSwitchCache;
  policy: GrantPolicy;
  upstream: UpstreamAccessTokens;
  tokens: TokenStore;
  signingKeys: SigningKeys;
  /** Operations with `approval: user | admin` wait here for a decision (src/approvals/). */
  approvals: Approvals;
  now?: () => number;
}

/** What the request is for, once every check before the upstream token passed. */
interface Authorized {
  peer: PeerIdentity;
  userId: string;
  agent: string;
  provider: Provider;
  operation: Operation;
  detail: AuthorizationDetail | undefined;
  grant: Awaited<ReturnType<GrantPolicy['selectWith']>>['grant'];
  cachedEntry: ReturnType<UpstreamAccessTokens['prefetch']> | undefined;
  wantsUpstream: boolean;
  /** An approved action: the token allows it once. */
  approved: boolean;
  trail: ExchangeTrail;
}

export class TokenExchange {
  readonly #now: () => number;

  constructor(private readonly deps: TokenExchangeDeps) {
    this.#now = deps.now ?? Date.now;
  }

  /** One span per exchange, with a child span per phase; its attributes are ids the audit record also carries. */
  exchange(request: ExchangeRequest, peer: PeerIdentity, trail: ExchangeTrail, requestId = ''): Promise<ExchangeResult> {
    return span('exchange', (s) => this.#exchange(request, peer, trail, requestId, s));
  }

  /**
   * The poll for an operation that awaited approval (OpenID CIBA Core 1.0 §10.1): the same
   * identities, the request collected once, then every check of an exchange again (ceiling,
   * kill switches, grant and consent) before a single-use token for the approved action.
   */
  poll(request: CibaPollRequest, peer: PeerIdentity, trail: ExchangeTrail): Promise<ExchangeResult> {
    return span('exchange.poll', async (s) => {
      const { userId, agent } = await this.#identify(request, peer, trail);
      const approved = await this.deps.approvals.collect(request.auth_req_id, { gateway: peer.id, certThumbprint: peer.thumbprint, agent, userId });
      const operation = this.deps.catalog.operation(approved.operation);
      const provider = this.deps.catalog.provider(approved.provider);
      if (!operation || !provider) throw new InvalidScope('approved operation no longer configured').because('scope names no operation of this provider');
      const detail = authorizationDetail.parse(JSON.parse(approved.detail));
      const authorized = await this.#authorize(peer, userId, agent, provider, operation, { ...detail, identifier: approved.grantId }, false, trail, s);
      return this.#issue({ ...authorized, detail, approved: true });
    });
  }

  /** Subject and actor tokens verified, and the agent they agree on. */
  async #identify(request: IdentityParams, peer: PeerIdentity, trail: ExchangeTrail): Promise<{ userId: string; agent: string }> {
    const { verifier } = this.deps;
    trail.gateway = peer.id;
    if (request.actor_token !== undefined && request.actor_token_type === undefined)
      throw new InvalidRequest('actor_token without actor_token_type').because('actor_token requires actor_token_type');

    const { subject, actor, agent } = await span('exchange.identity', async () => {
      const subject = await verifier.verifySubject(request.subject_token);
      trail.user = subject.userId;
      const actor = request.actor_token === undefined ? undefined : await verifier.verifyActor(request.actor_token);
      const agent = actor?.agent ?? subject.act?.sub;
      if (!agent)
        throw new InvalidRequest('no actor: neither actor_token nor act in the subject token').because(
          'no actor: send actor_token or a subject_token act claim',
        );
      trail.agent = agent;
      return { subject, actor, agent };
    });
    if (actor && subject.act && subject.act.sub !== actor.agent)
      throw new InvalidRequest('subject act names another agent than the actor token').because('subject_token act names another agent than actor_token');
    const { mayAct } = subject;
    if (mayAct) {
      if (mayAct.sub !== agent) throw new InvalidRequest('may_act names another agent').because('subject_token may_act names another agent');
      if (mayAct.iss && actor && mayAct.iss !== actor.issuer)
        throw new InvalidRequest('may_act names another agent issuer').because('subject_token may_act names another agent issuer');
    }
    return { userId: subject.userId, agent };
  }

  async #exchange(request: ExchangeRequest, peer: PeerIdentity, trail: ExchangeTrail, requestId: string, s: Span): Promise<ExchangeResult> {
    const { userId, agent } = await this.#identify(request, peer, trail);
    const { provider, operation, detail } = resolveTarget(this.deps.catalog, request);
    const wantsUpstream = request.requested_token_type === TOKEN_TYPE_ACCESS_TOKEN;
    const action = boundAction(detail);
    if (operation.approval !== 'none') {
      assert(action, () => new InvalidRequest('approval needs the action').because('approval needs authorization_details with method, path and body_sha256'));
      assert(!wantsUpstream, () =>
        new InvalidRequest('approval with the upstream token').because('operation needs approval: only an operation token is issued'),
      );
    }
    const authorized = await this.#authorize(peer, userId, agent, provider, operation, detail, wantsUpstream, trail, s);
    if (operation.approval !== 'none' && action && detail) {
      const binding = { gateway: peer.id, certThumbprint: peer.thumbprint, agent, userId };
      const { grant } = authorized;
      await this.deps.approvals.ask({
        approver: operation.approval,
        binding,
        grantId: grant.id,
        provider: provider.id,
        operation: operation.name,
        detail,
        action,
        requestId,
      });
    }
    return this.#issue(authorized);
  }

  /** Ceiling, kill switches, grant, consent: everything decided before the upstream token is touched. */
  async #authorize(
    peer: PeerIdentity,
    userId: string,
    agent: string,
    provider: Provider,
    operation: Operation,
    detail: AuthorizationDetail | undefined,
    wantsUpstream: boolean,
    trail: ExchangeTrail,
    s: Span,
  ): Promise<Authorized> {
    const { killSwitches, policy } = this.deps;
    trail.provider = provider.id;
    trail.operation = operation.name;
    s.setAttributes({ 'vault.provider': provider.id, 'vault.operation': operation.name });
    span('exchange.policy', () => policy.assertCeiling(agent, operation));
    // Past the ceiling, the agent is one the configuration names.
    s.setAttribute('vault.agent', agent);
    if (wantsUpstream && !operation.releaseUpstreamToken)
      throw new InvalidRequest('operation does not allow releasing the upstream token').because('operation does not allow releasing the upstream token');

    // One Redis round trip: the kill-switch epoch, the grant (read fresh every time) and its
    // cached upstream token. The switches are decided first (docs/architecture.md#post-exchange), on a snapshot at
    // least as new as that epoch, so a switch durable before this request is enforced here.
    const switchesCurrent = killSwitches.confirmCurrent();
    const selecting = span('exchange.grant', () =>
      policy.selectWith(
        userId,
        agent,
        operation,
        detail?.identifier,
        (id) => this.deps.upstream.prefetch(id),
        (own) => (trail.grant = own.id),
      ),
    );
    selecting.catch(() => {});
    const confirmedAt = await span('exchange.kill-switches', async () => {
      const readAt = await switchesCurrent;
      killSwitches.assertOpen({ gateway: peer.id, agent, user: userId, provider: provider.id }, readAt);
      return readAt;
    });
    const { grant, alongside: cachedEntry } = await selecting;
    trail.grant = grant.id;
    s.setAttribute('vault.grant', grant.id);
    span('exchange.kill-switches', () => killSwitches.assertOpen({ grant: grant.id }, confirmedAt));
    return { peer, userId, agent, provider, operation, detail, grant, cachedEntry, wantsUpstream, approved: false, trail };
  }

  /** Upstream access token, then the operation token (or the upstream token itself) and its record. */
  async #issue(authorized: Authorized): Promise<ExchangeResult> {
    const { peer, userId, agent, provider, operation, detail, grant, cachedEntry, wantsUpstream, approved, trail } = authorized;
    const { policy } = this.deps;
    // The raw token goes out with the grant's instance_url, where the gateway will send it.
    const releasable = (url: string | undefined) => url === undefined || allowedInstanceUrl(provider, url) !== null;
    assert(!wantsUpstream || releasable(grant.instanceUrl), () => new UpstreamError('grant instance URL outside the provider hosts'));

    const upstream = await span('exchange.upstream', () => this.deps.upstream.get(grant, cachedEntry)).catch((err: unknown) => {
      throw err instanceof GrantNeedsConsent
        ? new ConsentRequired(policy.consentUri(provider.id, agent, operation.name), err.message).because('grant needs re-consent')
        : err;
    });
    const nowMs = this.#now();
    const now = Math.floor(nowMs / 1000);
    const upstreamLeft = Math.floor((upstream.expiresAt - nowMs) / 1000);
    if (upstreamLeft <= 0) throw new TemporarilyUnavailable('upstream token expired while exchanging');

    if (wantsUpstream) {
      assert(releasable(upstream.instanceUrl), () => new UpstreamError('refreshed instance URL outside the provider hosts'));
      return {
        body: {
          access_token: upstream.accessToken,
          issued_token_type: TOKEN_TYPE_ACCESS_TOKEN,
          token_type: 'Bearer',
          expires_in: upstreamLeft,
          scope: operation.name,
          ...(upstream.instanceUrl ? { instance_url: upstream.instanceUrl } : {}),
        },
        released: upstream.accessToken,
      };
    }

    const ttl = Math.min(operation.maxTtlSeconds, upstreamLeft);
    const minted = span('exchange.sign', () =>
      mintOperationToken(this.deps.signingKeys, {
        issuer: this.deps.issuer,
        userId,
        agent,
        provider: provider.id,
        operation: operation.name,
        ...(detail ? { detail } : {}),
        gateway: peer.id,
        certThumbprint: peer.thumbprint,
        issuedAt: now,
        expiresAt: now + ttl,
      }),
    );
    trail.jti = minted.jti;
    const action = boundAction(detail);
    const stored = this.deps.tokens.put(
      {
        jti: minted.jti,
        grantId: grant.id,
        userId,
        agent,
        provider: provider.id,
        operation: operation.name,
        gateway: peer.id,
        certThumbprint: peer.thumbprint,
        // An approval allows its action once (src/approvals/).
        usesLeft: approved ? 1 : operation.uses,
        expiresAt: (now + ttl) * 1000,
        ...(grant.consentEpochs?.[agent] ? { consentEpoch: grant.consentEpochs[agent] } : {}),
        proof: minted.proof,
        ...(action && { action }),
      },
      ttl * 1000,
    );
    // The caller awaits it; this only keeps a rejection that lands first from counting as unhandled.
    stored.catch(() => {});
    return {
      body: { access_token: minted.token, issued_token_type: TOKEN_TYPE_JWT, token_type: 'Bearer', expires_in: ttl, scope: operation.name },
      released: minted.token,
      stored,
    };
  }
}
