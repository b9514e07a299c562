/**
 * What makes one fake look like a particular provider: its routes, scopes,
 * refresh-token policy, signing algorithms and token-response quirks.
 */
import { createHmac } from 'node:crypto';
import type { KoaContextWithOIDC, Middleware } from 'oidc-provider';
import type { FakeSigningAlg } from './fake-oauth-keys.js';

export type FakeProfile = 'idp' | 'salesforce' | 'servicenow' | 'crm';

/** Scopes of the demo CRM; its operations in dev mode use these. */
export const CRM_SCOPES = ['contacts.read', 'contacts.write'] as const;

export interface ProfileSpec {
  /** oidc-provider `routes` overrides. */
  routes: Record<string, string>;
  scopes: string[];
  /** Salesforce and ServiceNow sign ID tokens RS256; the IdP offers ES256 and EdDSA. */
  signingAlgs: FakeSigningAlg[];
  introspection: boolean;
  /** Where the fake's protected API lives (bearer access tokens), under the origin. */
  apiPrefix: string;
  /** Lifetimes when not configured. */
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  autoConsent: boolean;
  /** Salesforce issues refresh tokens only for `refresh_token`/`offline_access`; the others always. */
  issueRefreshToken(scopes: Set<string>): boolean;
}

const DAY = 24 * 60 * 60;

export const PROFILES: Record<FakeProfile, ProfileSpec> = {
  idp: {
    routes: {},
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    signingAlgs: ['ES256', 'EdDSA'],
    introspection: true,
    apiPrefix: '/api/',
    accessTokenTtlSeconds: 3600,
    refreshTokenTtlSeconds: 14 * DAY,
    autoConsent: true,
    issueRefreshToken: () => true,
  },
  salesforce: {
    routes: {
      authorization: '/services/oauth2/authorize',
      token: '/services/oauth2/token',
      revocation: '/services/oauth2/revoke',
      introspection: '/services/oauth2/introspect',
      userinfo: '/services/oauth2/userinfo',
      jwks: '/id/keys',
    },
    scopes: ['openid', 'offline_access', 'api', 'refresh_token', 'id', 'profile', 'email', 'web', 'full'],
    signingAlgs: ['RS256'],
    introspection: true,
    apiPrefix: '/services/data/',
    // The org's session timeout (often 2 h); only introspection reveals it.
    accessTokenTtlSeconds: 7200,
    refreshTokenTtlSeconds: 90 * DAY,
    autoConsent: false,
    issueRefreshToken: (scopes) => scopes.has('refresh_token') || scopes.has('offline_access'),
  },
  servicenow: {
    routes: { authorization: '/oauth_auth.do', token: '/oauth_token.do', revocation: '/oauth_revoke_token.do' },
    scopes: ['openid', 'offline_access', 'useraccount'],
    signingAlgs: ['RS256'],
    // ServiceNow has no RFC 7662 endpoint: its `expires_in` is the only expiry.
    introspection: false,
    apiPrefix: '/api/now/',
    accessTokenTtlSeconds: 1800,
    refreshTokenTtlSeconds: 100 * DAY,
    autoConsent: false,
    issueRefreshToken: () => true,
  },
  crm: {
    routes: {},
    scopes: ['openid', 'offline_access', 'profile', 'email', ...CRM_SCOPES],
    signingAlgs: ['ES256'],
    introspection: true,
    apiPrefix: '/api/',
    accessTokenTtlSeconds: 3600,
    refreshTokenTtlSeconds: 30 * DAY,
    autoConsent: false,
    issueRefreshToken: () => true,
  },
};

export interface SalesforceShape {
  origin: string;
  instanceUrl: string;
  orgId: string;
  secretOf(clientId: string): string | undefined;
}

/**
 * Reshapes token responses the way Salesforce sends them: `instance_url`,
 * identity URL `id`, `issued_at` in ms, an HMAC `signature`, and no
 * `expires_in` (its lifetime is the org's session timeout). A refresh that
 * did not rotate returns no `refresh_token`, as Salesforce does.
 */
export function salesforceTokenResponse(tokenPath: string, shape: SalesforceShape): Middleware {
  return async (ctx: KoaContextWithOIDC, next) => {
    await next();
    if (ctx.method !== 'POST' || ctx.path !== tokenPath || ctx.status !== 200) return;
    const body = ctx.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || typeof body.access_token !== 'string') return;
    const accountId = ctx.oidc.entities.Account?.accountId ?? ctx.oidc.entities.AccessToken?.accountId ?? 'unknown';
    const id = `${shape.origin}/id/${shape.orgId}/${accountId}`;
    const issuedAt = String(Date.now());
    const secret = ctx.oidc.client ? shape.secretOf(ctx.oidc.client.clientId) : undefined;
    delete body.expires_in;
    if (ctx.oidc.params?.grant_type === 'refresh_token' && body.refresh_token === ctx.oidc.params.refresh_token) delete body.refresh_token;
    Object.assign(body, {
      instance_url: shape.instanceUrl,
      id,
      issued_at: issuedAt,
      ...(secret
        ? {
            signature: createHmac('sha256', secret)
              .update(id + issuedAt)
              .digest('base64'),
          }
        : {}),
    });
  };
}
