/**
 * The vault as an OAuth client of each provider (openid-client): building
 * authorization URLs, code exchange, refresh, RFC 7009 revocation and RFC 7662
 * introspection. Token responses are normalised here, including the provider
 * quirks: Salesforce sends `instance_url` and no `expires_in`.
 *
 * No call here is retried: a refresh whose response was lost must not be
 * replayed blindly (a rotated refresh token would be reused and the upstream
 * grant revoked).
 */
import * as oidc from 'openid-client';
import type { Provider, ProviderCatalog } from './catalog.js';
import { OutboundError, outboundFetch } from '../net/outbound.js';

/** A normalised token response. Secrets: never log or audit this object. */
export interface UpstreamTokens {
  accessToken: string;
  /** Present when the provider issued (or rotated) a refresh token: persist before use. */
  refreshToken?: string;
  /** Epoch ms when the access token expires. */
  expiresAt: number;
  scopes?: string[];
  /** Salesforce: the org's API base for this grant. */
  instanceUrl?: string;
  /** The account at the provider: ID token `sub`, else Salesforce's identity URL `id`. */
  subject?: string;
}

export class UpstreamInvalidGrant extends Error {
  override name = 'UpstreamInvalidGrant';
  readonly code = 'TV_UPSTREAM_INVALID_GRANT';
}

export class UpstreamFailure extends Error {
  override name = 'UpstreamFailure';
  readonly code = 'TV_UPSTREAM_FAILED';
  constructor(
    readonly reason: 'network' | 'unreachable' | 'timeout' | 'unavailable' | 'protocol' | 'refused' | 'unsupported',
    status?: number,
  ) {
    super(`upstream ${reason}${status ? ` (HTTP ${status})` : ''}`);
  }
}

export interface AuthorizationRequest {
  redirectUri: string;
  state: string;
  codeVerifier: string;
  nonce?: string;
  scope?: string;
  /** Extra authorization parameters (e.g. `prompt`). */
  extra?: Record<string, string>;
}

export interface CodeExchangeChecks {
  redirectUri: string;
  codeVerifier: string;
  state: string;
  nonce?: string;
}

const toList = (scope: unknown) => (typeof scope === 'string' && scope.length > 0 ? scope.split(' ') : undefined);

export class UpstreamOAuth {
  private readonly configs = new Map<string, Promise<oidc.Configuration>>();

  constructor(
    private readonly catalog: ProviderCatalog,
    /** Client secrets by provider id, read from their files at boot. */
    private readonly secrets: ReadonlyMap<string, string>,
    private readonly now: () => number = Date.now,
  ) {}

  private provider(id: string): Provider {
    const provider = this.catalog.provider(id);
    if (!provider) throw new UpstreamFailure('unsupported');
    return provider;
  }

  /** The openid-client Configuration of a provider, discovered once for `oidc`. */
  configuration(providerId: string): Promise<oidc.Configuration> {
    let config = this.configs.get(providerId);
    if (!config) {
      config = this.build(this.provider(providerId));
      this.configs.set(providerId, config);
      // A failed discovery is not cached: the next call tries again.
      config.catch(() => this.configs.delete(providerId));
    }
    return config;
  }

  private async build(provider: Provider): Promise<oidc.Configuration> {
    const secret = this.secrets.get(provider.id);
    const auth = secret ? oidc.ClientSecretPost(secret) : oidc.None();
    const fetch = outboundFetch({ allowPrivateNetwork: provider.allowPrivateNetwork, timeoutMs: provider.timeoutMs });
    const timeout = Math.ceil(provider.timeoutMs / 1000);
    const insecure = provider.allowPrivateNetwork ? [oidc.allowInsecureRequests] : [];
    const { endpoints } = provider;
    let config: oidc.Configuration;
    if (endpoints.issuer) {
      config = await this.call(() =>
        oidc.discovery(new URL(endpoints.issuer!), provider.clientId, undefined, auth, { [oidc.customFetch]: fetch, timeout, execute: insecure }),
      );
    } else {
      const metadata: oidc.ServerMetadata = {
        // Providers without discovery: their origin stands in as issuer (RFC 9207 `iss` is compared to it).
        issuer: new URL(endpoints.token!).origin,
        authorization_endpoint: endpoints.authorization!,
        token_endpoint: endpoints.token!,
        ...(endpoints.revocation ? { revocation_endpoint: endpoints.revocation } : {}),
        ...(endpoints.introspection ? { introspection_endpoint: endpoints.introspection } : {}),
      };
      config = new oidc.Configuration(metadata, provider.clientId, undefined, auth);
      for (const fn of insecure) fn(config);
    }
    config[oidc.customFetch] = fetch;
    config.timeout = timeout;
    return config;
  }

  /** Run an openid-client call, translating its errors; never retries. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof oidc.ResponseBodyError) {
        if (err.error === 'invalid_grant') throw new UpstreamInvalidGrant('provider answered invalid_grant');
        throw new UpstreamFailure('refused', err.status);
      }
      if (err instanceof OutboundError) throw new UpstreamFailure(failureOf(err));
      if (err instanceof UpstreamFailure || err instanceof UpstreamInvalidGrant) throw err;
      const cause = (err as { cause?: unknown }).cause;
      // openid-client ignores the body of a 5xx and keeps the Response as the cause: the provider is down, not refusing.
      if (cause instanceof Response && cause.status >= 500) throw new UpstreamFailure('unavailable', cause.status);
      if (cause instanceof OutboundError) throw new UpstreamFailure(failureOf(cause));
      // AbortSignal.timeout() rejects with a DOMException: TIMEOUT_ERR, or ABORT_ERR when aborted otherwise.
      if (err instanceof DOMException && (err.code === DOMException.TIMEOUT_ERR || err.code === DOMException.ABORT_ERR)) throw new UpstreamFailure('timeout');
      throw new UpstreamFailure('protocol');
    }
  }

  async authorizationUrl(providerId: string, request: AuthorizationRequest): Promise<URL> {
    const provider = this.provider(providerId);
    const config = await this.configuration(providerId);
    return oidc.buildAuthorizationUrl(config, {
      redirect_uri: request.redirectUri,
      response_type: 'code',
      scope: request.scope ?? provider.scopes.join(' '),
      state: request.state,
      code_challenge: await oidc.calculatePKCECodeChallenge(request.codeVerifier),
      code_challenge_method: 'S256',
      ...(request.nonce ? { nonce: request.nonce } : {}),
      ...(request.extra ?? {}),
    });
  }

  /** Exchange the authorization code from a callback URL (checks state, iss when sent, PKCE, nonce). */
  async exchangeCode(providerId: string, callbackUrl: URL, checks: CodeExchangeChecks): Promise<UpstreamTokens> {
    const provider = this.provider(providerId);
    const config = await this.configuration(providerId);
    const response = await this.call(() =>
      oidc.authorizationCodeGrant(
        config,
        callbackUrl,
        {
          pkceCodeVerifier: checks.codeVerifier,
          expectedState: checks.state,
          ...(checks.nonce ? { expectedNonce: checks.nonce } : {}),
        },
        { redirect_uri: checks.redirectUri },
      ),
    );
    return this.normalise(provider, response);
  }

  async refresh(providerId: string, refreshToken: string): Promise<UpstreamTokens> {
    const provider = this.provider(providerId);
    const config = await this.configuration(providerId);
    const response = await this.call(() => oidc.refreshTokenGrant(config, refreshToken));
    return this.normalise(provider, response);
  }

  /** RFC 7009 revocation. Resolves when the provider confirmed (200); throws otherwise. */
  async revoke(providerId: string, token: string, hint: 'refresh_token' | 'access_token'): Promise<void> {
    const config = await this.configuration(providerId);
    if (!config.serverMetadata().revocation_endpoint) throw new UpstreamFailure('unsupported');
    await this.call(() => oidc.tokenRevocation(config, token, { token_type_hint: hint }));
  }

  /** RFC 7662 introspection of an upstream token. */
  async introspect(providerId: string, token: string): Promise<{ active: boolean; exp?: number; sub?: string }> {
    const config = await this.configuration(providerId);
    if (!config.serverMetadata().introspection_endpoint) throw new UpstreamFailure('unsupported');
    const result = await this.call(() => oidc.tokenIntrospection(config, token));
    return {
      active: result.active === true,
      ...(typeof result.exp === 'number' ? { exp: result.exp } : {}),
      ...(typeof result.sub === 'string' ? { sub: result.sub } : {}),
    };
  }

  private async normalise(provider: Provider, response: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers): Promise<UpstreamTokens> {
    if (typeof response.access_token !== 'string' || response.access_token.length === 0) throw new UpstreamFailure('protocol');
    const claims = response.id_token ? response.claims() : undefined;
    const subject = claims?.sub ?? (typeof response.id === 'string' ? response.id : undefined);
    const instanceUrl = typeof response.instance_url === 'string' ? response.instance_url : undefined;
    const scopes = toList(response.scope);
    return {
      accessToken: response.access_token,
      ...(typeof response.refresh_token === 'string' && response.refresh_token ? { refreshToken: response.refresh_token } : {}),
      expiresAt: await this.expiry(provider, response),
      ...(scopes ? { scopes } : {}),
      ...(instanceUrl ? { instanceUrl } : {}),
      ...(subject ? { subject } : {}),
    };
  }

  /**
   * `expires_in` when sent; otherwise (Salesforce) the token's `exp` from
   * introspection, else issue time + the configured session lifetime.
   */
  private async expiry(provider: Provider, response: oidc.TokenEndpointResponse): Promise<number> {
    const now = this.now();
    if (typeof response.expires_in === 'number' && response.expires_in > 0) return now + response.expires_in * 1000;
    if (provider.endpoints.introspection) {
      const info = await this.introspect(provider.id, response.access_token).catch(() => undefined);
      if (info?.active && info.exp) return Math.min(info.exp * 1000, now + provider.defaultAccessTokenLifetimeSeconds * 1000);
    }
    const issuedAt = typeof response.issued_at === 'string' ? Number(response.issued_at) : NaN;
    const base = Number.isFinite(issuedAt) && issuedAt <= now ? issuedAt : now;
    return base + provider.defaultAccessTokenLifetimeSeconds * 1000;
  }
}

/** Outbound failures as upstream ones: only `unreachable` says the request was never sent. */
function failureOf(err: OutboundError): 'timeout' | 'unreachable' | 'network' {
  return err.reason === 'timeout' || err.reason === 'unreachable' ? err.reason : 'network';
}
