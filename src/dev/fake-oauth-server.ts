/**
 * A real OAuth 2.0 / OpenID Connect server (panva's oidc-provider) dressed
 * up as the organisation's IdP, Salesforce, ServiceNow or the demo CRM. Used
 * by `npm run dev` and by the tests, so the vault's client talks to real
 * protocol behaviour: rotation, reuse detection that revokes the whole grant,
 * RFC 7009 revocation, RFC 7662 introspection, PKCE, RFC 9207 `iss`.
 *
 * Plain HTTP on loopback only. Never part of the production build.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import Provider, { type Configuration, type Middleware } from 'oidc-provider';
import { DEFAULT_ACCOUNTS, findAccountIn, loadGrant, passwordLogin, type FakeAccount } from './fake-oauth-accounts.js';
import { fakeApi, type ApiCall, type ApiFactory } from './fake-oauth-api.js';
import {
  generateSigningKeys,
  signAccessToken,
  signIdToken,
  type FakeSigningKeys,
  type MintAccessTokenInput,
  type MintIdTokenInput,
} from './fake-oauth-keys.js';
import { PROFILES, salesforceTokenResponse, type FakeProfile } from './fake-oauth-profiles.js';
import { unboundedAdapter } from './fake-oauth-storage.js';

export { ADMIN_GROUP, DEFAULT_ACCOUNTS, type FakeAccount } from './fake-oauth-accounts.js';
export type { MintAccessTokenInput, MintIdTokenInput } from './fake-oauth-keys.js';
export { CRM_SCOPES, type FakeProfile } from './fake-oauth-profiles.js';

export interface FakeClient {
  clientId: string;
  /** Confidential (`client_secret_post`, Basic also accepted) when set; public (`none`) otherwise. */
  clientSecret?: string;
  redirectUris: string[];
}

export interface FakeOAuthServerOptions {
  profile: FakeProfile;
  clients?: FakeClient[];
  /** Default 3600 (ServiceNow 1800, Salesforce 7200); tests use a few seconds to force refreshes. */
  accessTokenTtlSeconds?: number;
  refreshTokenTtlSeconds?: number;
  /** Rotate refresh tokens on every use (default true). */
  refreshTokenRotation?: boolean;
  accounts?: readonly FakeAccount[];
  /** Salesforce `instance_url`; default the server's origin. */
  apiBaseUrl?: string;
  /** Default 0 (any free port). Always bound to 127.0.0.1. */
  port?: number;
  /** Approve consent without showing the page (default: only for `idp`). */
  autoConsent?: boolean;
  /** Delay every token-endpoint response (the request itself is processed at once). */
  slowTokenEndpointMs?: number;
  /** Answer every token-endpoint request with 503. */
  failTokenEndpoint?: boolean;
  /** Salesforce organisation id in identity URLs. */
  orgId?: string;
  /** Signing keys to use instead of fresh ones (dev mode keeps the demo IdP's under keys/dev/). */
  signingKeys?: FakeSigningKeys;
  /** The protected API under the profile's prefix; default {@link fakeApi}. */
  api?: ApiFactory;
  /** More Koa middleware, ahead of the provider's own routes. */
  middleware?: Middleware[];
}

export interface SeededGrant {
  grantId: string;
  refreshToken: string;
  accessToken: string;
}

export interface FakeOAuthServer {
  readonly profile: FakeProfile;
  /** Issuer identifier; equal to `origin` (no path) for every profile. */
  readonly issuer: string;
  readonly origin: string;
  readonly provider: Provider;
  /** Successful `refresh_token` grants. */
  readonly refreshes: number;
  /** `grant.revoked` events: reuse detection, RFC 7009 revocation of a refresh token. */
  readonly revokedGrants: number;
  readonly revokedGrantIds: readonly string[];
  /** Every request that reached the token endpoint, including failed and 503 ones. */
  readonly tokenRequests: number;
  /** Token-endpoint answers with `invalid_grant`. */
  readonly invalidGrants: number;
  readonly apiCalls: readonly ApiCall[];
  stop(): Promise<void>;
  grantExists(grantId: string): Promise<boolean>;
  /** True while the refresh token exists, is unexpired and not yet consumed (rotated). */
  isRefreshTokenActive(refreshToken: string): Promise<boolean>;
  grantIdOf(refreshToken: string): Promise<string | undefined>;
  setSlowTokenEndpoint(ms: number): void;
  setTokenEndpointFailing(failing: boolean): void;
  /** A real grant + refresh token + access token, as if the user had consented in a browser. */
  issueRefreshTokenFor(input: { accountId: string; clientId: string; scope: string }): Promise<SeededGrant>;
  /** An ID token signed with this server's own key (verifies against its JWKS). */
  mintIdToken(input: MintIdTokenInput): Promise<string>;
  /** An RFC 9068 access token (`typ: at+jwt`) signed with this server's own key. */
  mintAccessToken(input: MintAccessTokenInput): Promise<string>;
}

const DEFAULT_CLIENT: FakeClient = { clientId: 'token-vault', clientSecret: 'token-vault-secret', redirectUris: ['https://127.0.0.1:8443/callback'] };

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startFakeOAuthServer(options: FakeOAuthServerOptions): Promise<FakeOAuthServer> {
  const spec = PROFILES[options.profile];
  const clients = options.clients ?? [DEFAULT_CLIENT];
  const accounts = options.accounts ?? DEFAULT_ACCOUNTS;
  const refreshTtl = options.refreshTokenTtlSeconds ?? spec.refreshTokenTtlSeconds;
  const keys = options.signingKeys ?? (await generateSigningKeys(spec.signingAlgs));
  const tokenPath = spec.routes.token ?? '/token';
  const state = {
    refreshes: 0,
    revokedGrants: 0,
    revokedGrantIds: [] as string[],
    tokenRequests: 0,
    invalidGrants: 0,
    apiCalls: [] as ApiCall[],
    slowMs: options.slowTokenEndpointMs ?? 0,
    failing: options.failTokenEndpoint ?? false,
  };

  // The issuer must be known before the provider exists: bind first, then attach the handler.
  const server = createServer();
  const port = await listen(server, options.port ?? 0);
  const origin = `http://127.0.0.1:${port}`;

  const configuration: Configuration = {
    adapter: unboundedAdapter(),
    clients: clients.map((c) => ({
      client_id: c.clientId,
      ...(c.clientSecret ? { client_secret: c.clientSecret } : {}),
      redirect_uris: c.redirectUris,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: c.clientSecret ? 'client_secret_post' : 'none',
    })),
    jwks: keys.jwks as { keys: Record<string, unknown>[] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'], groups: ['groups'] },
    scopes: spec.scopes,
    routes: spec.routes,
    ttl: {
      AccessToken: options.accessTokenTtlSeconds ?? spec.accessTokenTtlSeconds,
      IdToken: 3600,
      RefreshToken: refreshTtl,
      Grant: refreshTtl,
      Session: 14 * 24 * 60 * 60,
      Interaction: 60 * 60,
    },
    // oidc-provider 9 only knows S256; this makes it mandatory for confidential clients too.
    pkce: { required: () => true },
    rotateRefreshToken: options.refreshTokenRotation ?? true,
    // Scope claims (email, groups) in the ID token itself: the vault reads `groups` from it at sign-in.
    conformIdTokenClaims: false,
    clientDefaults: { id_token_signed_response_alg: spec.signingAlgs[0] },
    issueRefreshToken: async (_ctx, client, source) => client.grantTypeAllowed('refresh_token') && spec.issueRefreshToken(source.scopes),
    // Upstream refresh tokens outlive the browser session at the provider.
    expiresWithSession: async () => false,
    findAccount: findAccountIn(accounts),
    loadExistingGrant: loadGrant(options.autoConsent ?? spec.autoConsent),
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      introspection: { enabled: spec.introspection, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      userinfo: { enabled: true },
    },
  };
  let provider: Provider;
  try {
    provider = new Provider(origin, configuration);
  } catch (err) {
    server.close();
    throw err;
  }

  const tokenEndpointControls: Middleware = async (ctx, next) => {
    if (ctx.method !== 'POST' || ctx.path !== tokenPath) return next();
    state.tokenRequests += 1;
    if (state.failing) {
      ctx.status = 503;
      ctx.set('retry-after', '1');
      ctx.body = { error: 'temporarily_unavailable', error_description: 'fake outage' };
      return;
    }
    await next();
    // The grant is processed at once and only the answer is late: a caller that gives up
    // has lost a response whose rotated refresh token upstream already considers current.
    if (state.slowMs > 0) await sleep(state.slowMs);
  };
  provider.use(tokenEndpointControls);
  provider.use(passwordLogin(provider, accounts));
  for (const extra of options.middleware ?? []) provider.use(extra);
  provider.use((options.api ?? fakeApi)(provider, spec.apiPrefix, (call) => state.apiCalls.push(call)));
  if (options.profile === 'salesforce') {
    const secrets = new Map(clients.map((c) => [c.clientId, c.clientSecret]));
    provider.use(
      salesforceTokenResponse(tokenPath, {
        origin,
        instanceUrl: options.apiBaseUrl ?? origin,
        orgId: options.orgId ?? '00D000000000001AAA',
        secretOf: (id) => secrets.get(id),
      }),
    );
  }

  provider.on('grant.success', (ctx) => {
    if (ctx.oidc.params?.grant_type === 'refresh_token') state.refreshes += 1;
  });
  provider.on('grant.error', (_ctx, error) => {
    if (error.error === 'invalid_grant') state.invalidGrants += 1;
  });
  provider.on('grant.revoked', (_ctx, grantId) => {
    state.revokedGrants += 1;
    state.revokedGrantIds.push(grantId);
  });

  server.on('request', provider.callback());

  return {
    profile: options.profile,
    issuer: origin,
    origin,
    provider,
    get refreshes() {
      return state.refreshes;
    },
    get revokedGrants() {
      return state.revokedGrants;
    },
    get revokedGrantIds() {
      return state.revokedGrantIds;
    },
    get tokenRequests() {
      return state.tokenRequests;
    },
    get invalidGrants() {
      return state.invalidGrants;
    },
    get apiCalls() {
      return state.apiCalls;
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
    grantExists: async (grantId) => (await provider.Grant.find(grantId)) !== undefined,
    isRefreshTokenActive: async (token) => (await provider.RefreshToken.find(token))?.isValid === true,
    grantIdOf: async (token) => (await provider.RefreshToken.find(token, { ignoreExpiration: true }))?.grantId,
    setSlowTokenEndpoint: (ms) => {
      state.slowMs = ms;
    },
    setTokenEndpointFailing: (failing) => {
      state.failing = failing;
    },
    issueRefreshTokenFor: async ({ accountId, clientId, scope }) => {
      const client = await provider.Client.find(clientId);
      if (!client) throw new Error(`fake OAuth server: unknown client ${clientId}`);
      if (!accounts.some((a) => a.id === accountId)) throw new Error(`fake OAuth server: unknown account ${accountId}`);
      const grant = new provider.Grant({ accountId, clientId });
      grant.addOIDCScope(scope);
      const grantId = await grant.save();
      const init = { accountId, client, grantId, scope, gty: 'authorization_code', expiresWithSession: false };
      const refreshToken = await new provider.RefreshToken(init).save();
      const accessToken = await new provider.AccessToken(init).save();
      return { grantId, refreshToken, accessToken };
    },
    mintIdToken: (input) => signIdToken(keys, origin, input),
    mintAccessToken: (input) => signAccessToken(keys, origin, input),
  };
}
