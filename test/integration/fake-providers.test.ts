/**
 * The fake providers behave like the real ones where the vault depends on it,
 * driven through the vault's own OAuth client (UpstreamOAuth).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoProviders } from '../../src/dev/demo-providers.js';
import { ADMIN_GROUP, startFakeOAuthServer, type FakeOAuthServer } from '../../src/dev/fake-oauth-server.js';
import { ProviderCatalog } from '../../src/providers/catalog.js';
import { providerSchema } from '../../src/providers/schema.js';
import { UpstreamFailure, UpstreamInvalidGrant, UpstreamOAuth } from '../../src/providers/upstream-oauth.js';
import { FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_REDIRECT_URI, fakeClient, upstreamFor } from '../helpers/fake-providers/catalog.js';
import { runLoginFlow } from '../helpers/fake-providers/login-flow.js';

let salesforce: FakeOAuthServer;
let salesforceNoRotation: FakeOAuthServer;
let servicenow: FakeOAuthServer;
let crm: FakeOAuthServer;
let idp: FakeOAuthServer;
let upstream: UpstreamOAuth;

const SF_SCOPE = 'api refresh_token';
const seed = (server: FakeOAuthServer, scope = SF_SCOPE) => server.issueRefreshTokenFor({ accountId: 'alice', clientId: FAKE_CLIENT_ID, scope });
const failureOf = async (promise: Promise<unknown>) =>
  promise.then(
    () => 'no error',
    (err: unknown) => err,
  );

beforeAll(async () => {
  const clients = [fakeClient];
  [salesforce, salesforceNoRotation, servicenow, crm, idp] = await Promise.all([
    startFakeOAuthServer({ profile: 'salesforce', clients, accessTokenTtlSeconds: 2 }),
    startFakeOAuthServer({ profile: 'salesforce', clients, refreshTokenRotation: false }),
    startFakeOAuthServer({ profile: 'servicenow', clients }),
    startFakeOAuthServer({ profile: 'crm', clients }),
    startFakeOAuthServer({ profile: 'idp', clients }),
  ]);
  ({ upstream } = upstreamFor({
    salesforce: { kind: 'salesforce', server: salesforce, scopes: ['api', 'refresh_token'] },
    'salesforce-fixed': { kind: 'salesforce', server: salesforceNoRotation },
    'salesforce-impatient': { kind: 'salesforce', server: salesforce, timeoutMs: 300 },
    servicenow: { kind: 'servicenow', server: servicenow },
    crm: { kind: 'oidc', server: crm },
    idp: { kind: 'oidc', server: idp, scopes: ['openid', 'email', 'groups'] },
  }));
});

afterAll(async () => {
  await Promise.all([salesforce, salesforceNoRotation, servicenow, crm, idp].map((s) => s?.stop()));
});

describe('fake Salesforce', () => {
  it('refreshes a seeded grant with instance_url and an expiry from introspection', async () => {
    const { refreshToken } = await seed(salesforce);
    const before = Date.now();
    const tokens = await upstream.refresh('salesforce', refreshToken);
    expect(tokens).toStrictEqual({
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      expiresAt: expect.any(Number),
      scopes: ['api', 'refresh_token'],
      instanceUrl: salesforce.origin,
      subject: `${salesforce.origin}/id/00D000000000001AAA/alice`,
    });
    // No expires_in: the 2 s lifetime can only have come from introspection.
    expect(tokens.expiresAt).toBeGreaterThan(before);
    expect(tokens.expiresAt).toBeLessThanOrEqual(Date.now() + 3_000);
    expect(await upstream.introspect('salesforce', tokens.accessToken)).toStrictEqual({ active: true, exp: tokens.expiresAt / 1000, sub: 'alice' });
  });

  it('answers the token endpoint the way Salesforce does (no expires_in)', async () => {
    const { refreshToken } = await seed(salesforce);
    const response = await fetch(`${salesforce.origin}/services/oauth2/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: FAKE_CLIENT_ID, client_secret: FAKE_CLIENT_SECRET }),
    });
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toStrictEqual({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      token_type: 'Bearer',
      scope: SF_SCOPE,
      instance_url: salesforce.origin,
      id: `${salesforce.origin}/id/00D000000000001AAA/alice`,
      issued_at: expect.stringMatching(/^\d{13}$/),
      signature: expect.any(String),
    });
  });

  it('rotates, and a reused refresh token is invalid_grant and revokes the whole grant', async () => {
    const { grantId, refreshToken } = await seed(salesforce);
    const revokedBefore = salesforce.revokedGrants;
    const first = await upstream.refresh('salesforce', refreshToken);
    expect(first.refreshToken).toBeDefined();
    expect(first.refreshToken).not.toBe(refreshToken);
    expect(await salesforce.isRefreshTokenActive(refreshToken)).toBe(false);

    expect(await failureOf(upstream.refresh('salesforce', refreshToken))).toBeInstanceOf(UpstreamInvalidGrant);
    expect(salesforce.revokedGrants).toBe(revokedBefore + 1);
    expect(salesforce.revokedGrantIds).toContain(grantId);
    expect(await salesforce.grantExists(grantId)).toBe(false);
    // The newest refresh token died with the grant: this is what a racing vault does to a user.
    expect(await salesforce.isRefreshTokenActive(first.refreshToken!)).toBe(false);
    expect(await failureOf(upstream.refresh('salesforce', first.refreshToken!))).toBeInstanceOf(UpstreamInvalidGrant);
  });

  it('lets exactly one of 50 naive concurrent refreshes with the same token succeed', async () => {
    const { grantId, refreshToken } = await seed(salesforce);
    const refreshesBefore = salesforce.refreshes;
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => upstream.refresh('salesforce', refreshToken)));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const invalid = results.filter((r) => r.status === 'rejected' && r.reason instanceof UpstreamInvalidGrant);
    expect(ok).toHaveLength(1);
    expect(invalid).toHaveLength(49);
    expect(salesforce.refreshes).toBe(refreshesBefore + 1);
    expect(await salesforce.grantExists(grantId)).toBe(false);
  });

  it('revokes upstream (RFC 7009) so the refresh token and its grant are gone', async () => {
    const { grantId, refreshToken } = await seed(salesforce);
    expect(await salesforce.isRefreshTokenActive(refreshToken)).toBe(true);
    await upstream.revoke('salesforce', refreshToken, 'refresh_token');
    expect(await salesforce.isRefreshTokenActive(refreshToken)).toBe(false);
    expect(await salesforce.grantExists(grantId)).toBe(false);
    expect(await failureOf(upstream.refresh('salesforce', refreshToken))).toBeInstanceOf(UpstreamInvalidGrant);
  });

  it('without rotation returns no refresh_token and the same one keeps working', async () => {
    const { refreshToken } = await seed(salesforceNoRotation);
    const first = await upstream.refresh('salesforce-fixed', refreshToken);
    const second = await upstream.refresh('salesforce-fixed', refreshToken);
    expect(first.refreshToken).toBeUndefined();
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(await salesforceNoRotation.isRefreshTokenActive(refreshToken)).toBe(true);
  });

  it('links through its login and consent pages (PKCE, state, RFC 9207 iss)', async () => {
    const codeVerifier = randomBytes(32).toString('base64url');
    const state = randomBytes(16).toString('base64url');
    const url = await upstream.authorizationUrl('salesforce', { redirectUri: FAKE_REDIRECT_URI, state, codeVerifier });
    expect(url.pathname).toBe('/services/oauth2/authorize');
    const { callbackUrl, pages } = await runLoginFlow(url, { login: 'alice', password: 'alice', redirectUri: FAKE_REDIRECT_URI });
    expect(pages).toStrictEqual(['login', 'consent']);
    expect(callbackUrl.searchParams.get('iss')).toBe(salesforce.origin);
    const tokens = await upstream.exchangeCode('salesforce', callbackUrl, { redirectUri: FAKE_REDIRECT_URI, codeVerifier, state });
    expect(tokens.refreshToken).toBeDefined();
    expect(tokens.instanceUrl).toBe(salesforce.origin);
    expect(tokens.subject).toBe(`${salesforce.origin}/id/00D000000000001AAA/alice`);
    // The linked grant is a normal refreshable one.
    expect((await upstream.refresh('salesforce', tokens.refreshToken!)).instanceUrl).toBe(salesforce.origin);
  });

  it('refuses a wrong password on its login page', async () => {
    const url = await upstream.authorizationUrl('salesforce', {
      redirectUri: FAKE_REDIRECT_URI,
      state: 's',
      codeVerifier: randomBytes(32).toString('base64url'),
    });
    await expect(runLoginFlow(url, { login: 'alice', password: 'wrong', redirectUri: FAKE_REDIRECT_URI })).rejects.toThrow('login rejected');
  });

  it('serves its API only to valid access tokens', async () => {
    const { accessToken } = await seed(salesforce);
    const ok = await fetch(`${salesforce.origin}/services/data/v62.0/sobjects`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(await ok.json()).toStrictEqual({ ok: true, method: 'GET', path: '/services/data/v62.0/sobjects', sub: 'alice', scope: SF_SCOPE });
    const denied = await fetch(`${salesforce.origin}/services/data/v62.0/sobjects`, { headers: { authorization: 'Bearer nope' } });
    expect(denied.status).toBe(401);
  });

  it('can be slow: the caller times out, yet the refresh still happens upstream', async () => {
    const { refreshToken } = await seed(salesforce);
    salesforce.setSlowTokenEndpoint(600);
    try {
      const started = Date.now();
      const failure = await failureOf(upstream.refresh('salesforce-impatient', refreshToken));
      expect(failure).toBeInstanceOf(UpstreamFailure);
      expect((failure as UpstreamFailure).reason).toBe('timeout');
      expect(Date.now() - started).toBeLessThan(600);
      // The lost response carried the rotated token: the one the vault holds is already spent.
      expect(await salesforce.isRefreshTokenActive(refreshToken)).toBe(false);
      expect(await failureOf(upstream.refresh('salesforce', refreshToken))).toBeInstanceOf(UpstreamInvalidGrant);
    } finally {
      salesforce.setSlowTokenEndpoint(0);
    }
  });

  it('can fail with 503 and recover', async () => {
    const { refreshToken } = await seed(salesforce);
    const requestsBefore = salesforce.tokenRequests;
    salesforce.setTokenEndpointFailing(true);
    const raw = await fetch(`${salesforce.origin}/services/oauth2/token`, { method: 'POST' });
    expect(raw.status).toBe(503);
    expect(raw.headers.get('retry-after')).toBe('1');
    await raw.body?.cancel();
    const failure = await failureOf(upstream.refresh('salesforce', refreshToken));
    salesforce.setTokenEndpointFailing(false);
    expect(failure).toBeInstanceOf(UpstreamFailure);
    expect((failure as UpstreamFailure).reason).toBe('unavailable');
    expect(salesforce.tokenRequests).toBe(requestsBefore + 2);
    expect(await salesforce.isRefreshTokenActive(refreshToken)).toBe(true);
    expect((await upstream.refresh('salesforce', refreshToken)).accessToken).toEqual(expect.any(String));
  });
});

describe('fake ServiceNow', () => {
  it('refreshes with expires_in (1800 s) on its .do endpoints and revokes', async () => {
    const { grantId, refreshToken } = await seed(servicenow, 'useraccount');
    const before = Date.now();
    const tokens = await upstream.refresh('servicenow', refreshToken);
    expect(tokens.expiresAt).toBeGreaterThanOrEqual(before + 1_800_000 - 5_000);
    expect(tokens.expiresAt).toBeLessThanOrEqual(Date.now() + 1_800_000);
    expect(servicenow.refreshes).toBe(1);
    await upstream.revoke('servicenow', tokens.refreshToken!, 'refresh_token');
    expect(await servicenow.grantExists(grantId)).toBe(false);
  });
});

describe('fake CRM', () => {
  it('is discovered as an OIDC provider and rotates refresh tokens', async () => {
    const { refreshToken } = await seed(crm, 'contacts.read');
    const tokens = await upstream.refresh('crm', refreshToken);
    expect(tokens.refreshToken).not.toBe(refreshToken);
    expect(tokens.scopes).toStrictEqual(['contacts.read']);
    expect(await failureOf(upstream.refresh('crm', refreshToken))).toBeInstanceOf(UpstreamInvalidGrant);
  });
});

describe('fake IdP', () => {
  it('signs users in with OIDC: PKCE, nonce, consent given automatically, groups in the ID token', async () => {
    const codeVerifier = randomBytes(32).toString('base64url');
    const state = randomBytes(16).toString('base64url');
    const nonce = randomBytes(16).toString('base64url');
    const url = await upstream.authorizationUrl('idp', { redirectUri: FAKE_REDIRECT_URI, state, codeVerifier, nonce });
    const { callbackUrl, pages } = await runLoginFlow(url, { login: 'admin', password: 'admin', redirectUri: FAKE_REDIRECT_URI });
    expect(pages).toStrictEqual(['login']);
    // The vault's client configuration, but the raw response: the ID token's claims are the point here.
    const config = await upstream.configuration('idp');
    const response = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce });
    expect(response.claims()).toMatchObject({
      iss: idp.issuer,
      sub: 'admin',
      aud: FAKE_CLIENT_ID,
      nonce,
      email: 'security@example.com',
      groups: [ADMIN_GROUP],
    });
    expect(decodeProtectedHeader(response.id_token!).alg).toBe('ES256');
    expect(config.serverMetadata().id_token_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256', 'EdDSA']));
    const userinfo = await oidc.fetchUserInfo(config, response.access_token, 'admin');
    expect(userinfo).toMatchObject({ sub: 'admin', groups: [ADMIN_GROUP] });
  });

  it('mints ID tokens and RFC 9068 access tokens that verify against its JWKS', async () => {
    const jwks = createRemoteJWKSet(new URL(`${idp.origin}/jwks`));
    const idToken = await idp.mintIdToken({ sub: 'alice', aud: 'token-vault', extra: { groups: [ADMIN_GROUP] } });
    const { payload } = await jwtVerify(idToken, jwks, { issuer: idp.issuer, audience: 'token-vault', algorithms: ['ES256'] });
    expect(payload).toMatchObject({ sub: 'alice', groups: [ADMIN_GROUP] });

    const edToken = await idp.mintIdToken({ sub: 'bob', aud: 'token-vault', alg: 'EdDSA' });
    await expect(jwtVerify(edToken, jwks, { issuer: idp.issuer, audience: 'token-vault' })).resolves.toBeDefined();

    const accessToken = await idp.mintAccessToken({ sub: 'alice', aud: 'token-vault', scope: 'vault' });
    expect(decodeProtectedHeader(accessToken).typ).toBe('at+jwt');
    const verified = await jwtVerify(accessToken, jwks, { issuer: idp.issuer, audience: 'token-vault', typ: 'at+jwt' });
    expect(verified.payload).toMatchObject({ sub: 'alice', scope: 'vault', client_id: expect.any(String), jti: expect.any(String) });

    const expired = await idp.mintIdToken({ sub: 'alice', aud: 'token-vault', expiresIn: -60 });
    await expect(jwtVerify(expired, jwks, { issuer: idp.issuer })).rejects.toThrow();
  });
});

describe('demo providers for npm run dev', () => {
  it('start the IdP and the CRM with generated secrets in 0600 files', async () => {
    const keysDir = await mkdtemp(join(tmpdir(), 'demo-providers-'));
    const demo = await startDemoProviders({ publicUrl: 'https://127.0.0.1:8443', keysDir, idpPort: 0, crmPort: 0 });
    try {
      for (const provider of [demo.idp, demo.crm]) {
        expect((await stat(provider.clientSecretFile)).mode & 0o777).toBe(0o600);
      }
      const secret = (await readFile(demo.crm.clientSecretFile, 'utf8')).trim();
      const catalog = new ProviderCatalog(
        {
          crm: providerSchema.parse({
            kind: 'oidc',
            displayName: 'Demo CRM',
            issuer: demo.crm.issuer,
            apiBaseUrl: demo.crm.apiBaseUrl,
            clientId: demo.crm.clientId,
            scopes: demo.crm.scopes,
            operations: { 'contacts.read': { description: 'Read contacts', methods: ['GET'], paths: ['/contacts/**'], scopes: ['contacts.read'] } },
            allowPrivateNetwork: true,
          }),
        },
        {},
      );
      const client = new UpstreamOAuth(catalog, new Map([['crm', secret]]));
      const seeded = await demo.crm.server.issueRefreshTokenFor({ accountId: 'alice', clientId: demo.crm.clientId, scope: 'contacts.read' });
      const tokens = await client.refresh('crm', seeded.refreshToken);
      const api = await fetch(`${demo.crm.apiBaseUrl}/contacts/1`, { headers: { authorization: `Bearer ${tokens.accessToken}` } });
      expect(await api.json()).toStrictEqual({
        authenticatedAs: { user: 'alice', client: demo.crm.clientId, scope: 'contacts.read' },
        contact: {
          id: '1',
          firstName: 'Priya',
          lastName: 'Placeholder',
          email: 'priya.placeholder@acme-anvils.example',
          phone: '+1-555-0101',
          title: 'Head of Procurement',
          accountId: 'acc-100',
          owner: 'alice',
          createdAt: '2026-01-05T09:00:00.000Z',
          updatedAt: '2026-01-05T09:00:00.000Z',
        },
      });
      expect(demo.crm.server.apiCalls).toStrictEqual([{ method: 'GET', path: '/api/contacts/1', sub: 'alice', scope: 'contacts.read' }]);
    } finally {
      await demo.stop();
      await rm(keysDir, { recursive: true, force: true });
    }
  });
});
