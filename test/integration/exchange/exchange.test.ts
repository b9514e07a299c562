import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { x5tS256 } from '../../../src/crypto/thumbprint.js';
import { TemporarilyUnavailable, AccessDenied, UpstreamError } from '../../../src/errors.js';
import { X509Certificate } from 'node:crypto';
import { call } from '../../helpers/https-client.js';
import {
  ACCESS_TOKEN_TYPE,
  AGENT_A,
  GRANT_TYPE,
  JWT_TYPE,
  crmProvider,
  exchangeParams,
  startExchangeVault,
  type ExchangeVault,
} from '../../helpers/exchange-fixture.js';
import { withRequestId } from '../../helpers/request-id.js';

let vault: ExchangeVault;
let gatewayThumbprint: string;
const UPSTREAM_TOKEN = 'upstream-access-token-for-alice';

beforeAll(async () => {
  vault = await startExchangeVault({ overrides: { internalUrl: 'https://vault.internal.test:9443' } });
  await vault.seedGrant('alice', {}, { accessToken: { value: UPSTREAM_TOKEN, expiresInMs: 3_600_000 } });
  gatewayThumbprint = x5tS256(new X509Certificate(vault.pki.gateway.cert).raw);
});
afterAll(() => vault.close());

async function vaultJwks(): Promise<JSONWebKeySet> {
  const res = await call(`${vault.publicUrl}/.well-known/jwks.json`, { ca: vault.pki.ca });
  expect(res.status).toBe(200);
  return res.json<JSONWebKeySet>();
}

describe('a real OAuth client performs the exchange', () => {
  it('openid-client genericGrantRequest over an mTLS undici dispatcher gets a token that verifies against the JWKS', async () => {
    const dispatcher = new Agent({ connect: { ca: vault.pki.ca, cert: vault.pki.gateway.cert, key: vault.pki.gateway.key } });
    const config = new oidc.Configuration(
      { issuer: vault.config.publicUrl!, token_endpoint: `${vault.internalUrl}/exchange` },
      'spiffe://dev.local/gateway',
      undefined,
      oidc.TlsClientAuth(),
    );
    config[oidc.customFetch] = (url, options) => undiciFetch(url, { ...(options as object), dispatcher }) as unknown as Promise<Response>;
    const params = await exchangeParams(vault.ids, 'alice', AGENT_A);
    const response = await oidc.genericGrantRequest(config, GRANT_TYPE, params);
    await dispatcher.close();

    expect(response.token_type).toBe('bearer');
    expect(response.issued_token_type).toBe(JWT_TYPE);
    expect(response.scope).toBe('crm:records.read');
    expect(response.expires_in).toBe(60);
    expect(decodeProtectedHeader(response.access_token)).toMatchObject({ typ: 'at+jwt', alg: 'EdDSA' });

    const { payload } = await jwtVerify(response.access_token, createLocalJWKSet(await vaultJwks()), {
      issuer: vault.config.publicUrl!,
      audience: 'crm',
      typ: 'at+jwt',
    });
    expect(payload).toStrictEqual({
      iss: vault.config.publicUrl,
      sub: `${vault.ids.idp.issuer}#alice`,
      aud: 'crm',
      act: { sub: AGENT_A },
      scope: 'crm:records.read',
      cnf: { 'x5t#S256': gatewayThumbprint },
      client_id: 'spiffe://dev.local/gateway',
      jti: expect.any(String),
      iat: expect.any(Number),
      exp: payload.iat! + 60,
    });
    const record = await vault.runtime.stores.tokens.get(payload.jti!);
    expect(record).toMatchObject({ jti: payload.jti, operation: 'crm:records.read', agent: AGENT_A, usesLeft: 1, certThumbprint: gatewayThumbprint });
    const audited = (await vault.auditRecords()).find((r) => r.jti === payload.jti);
    expect(audited).toMatchObject({ action: 'token.exchange', decision: 'allow', tokenHmac: vault.audit.tokenHmac(response.access_token) });
    // The durable record is also mirrored, whole, as a JSON log line (docs/architecture.md#audit-trail).
    const mirrored = vault.logs.entries().find((e) => (e.audit as { jti?: string } | undefined)?.jti === payload.jti);
    expect(mirrored?.audit).toStrictEqual(audited);
  });
});

describe('POST /exchange', () => {
  it('accepts JSON and answers no-store with the RFC 8693 response', async () => {
    const res = await call(`${vault.internalUrl}/exchange`, {
      method: 'POST',
      ca: vault.pki.ca,
      client: vault.pki.gateway,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(await exchangeParams(vault.ids, 'alice', AGENT_A)),
    });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toStrictEqual({
      access_token: expect.any(String),
      issued_token_type: JWT_TYPE,
      token_type: 'Bearer',
      expires_in: 60,
      scope: 'crm:records.read',
    });
  });

  it('releases the upstream access token only for an operation that allows it, with a truthful expires_in', async () => {
    const res = await vault.exchange(await exchangeParams(vault.ids, 'alice', AGENT_A, { scope: 'crm:token.raw', requested_token_type: ACCESS_TOKEN_TYPE }));
    expect(res.status).toBe(200);
    const body = res.json<{ expires_in: number }>();
    expect(body).toStrictEqual({
      access_token: UPSTREAM_TOKEN,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: expect.any(Number),
      scope: 'crm:token.raw',
    });
    expect(body.expires_in).toBeGreaterThan(3590);
    expect(body.expires_in).toBeLessThanOrEqual(3600);
  });

  it('accepts the agent from the subject token act claim when no actor token is sent', async () => {
    const params = await exchangeParams(vault.ids, 'alice', AGENT_A, { subject_token: await vault.ids.userToken('alice', { act: { sub: AGENT_A } }) });
    delete params.actor_token;
    delete params.actor_token_type;
    const res = await vault.exchange(params);
    expect(res.status).toBe(200);
  });

  it('honours may_act naming this agent', async () => {
    const res = await vault.exchange(
      await exchangeParams(vault.ids, 'alice', AGENT_A, { subject_token: await vault.ids.userToken('alice', { may_act: { sub: AGENT_A } }) }),
    );
    expect(res.status).toBe(200);
  });

  it('accepts a single authorization_details entry and echoes it in the token', async () => {
    const params = await exchangeParams(vault.ids, 'alice', AGENT_A);
    delete params.scope;
    params.authorization_details = JSON.stringify([{ type: 'crm', actions: ['records.read'] }]);
    const res = await vault.exchange(params);
    expect(res.status).toBe(200);
    const { payload } = await jwtVerify(res.json<{ access_token: string }>().access_token, createLocalJWKSet(await vaultJwks()));
    expect(payload.authorization_details).toStrictEqual([{ type: 'crm', actions: ['records.read'] }]);
  });

  it('answers 503 and releases nothing when the audit record cannot be written', async () => {
    vault.audit.failing = true;
    try {
      const res = await vault.exchange(await exchangeParams(vault.ids, 'alice', AGENT_A));
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.json()).toStrictEqual(withRequestId(res, { error: 'temporarily_unavailable', error_description: new TemporarilyUnavailable().description }));
    } finally {
      vault.audit.failing = false;
    }
  });

  it('enforces a kill switch engaged behind its back (no announcement) on the very next exchange, and lifts it', async () => {
    const params = await exchangeParams(vault.ids, 'alice', AGENT_A);
    const { killSwitches } = vault.runtime.stores;
    // Written straight to the store, as another replica would, with no pub/sub message: only the
    // epoch read in each exchange's own round trip can catch it before the next 250 ms poll.
    for (let round = 0; round < 10; round++) {
      await killSwitches.engage({ scope: 'agent', target: AGENT_A, reason: 'test', engagedAt: Date.now(), engagedBy: 'test' });
      const res = await vault.exchange(params);
      expect(res.json()).toStrictEqual(withRequestId(res, { error: 'access_denied', error_description: new AccessDenied().description }));
      expect(res.status).toBe(403);
      await killSwitches.release('agent', AGENT_A);
      expect((await vault.exchange(params)).status).toBe(200);
    }
  });
});

describe('POST /introspect', () => {
  const introspect = (token: string, client = vault.pki.gateway) =>
    call(`${vault.internalUrl}/introspect`, {
      method: 'POST',
      ca: vault.pki.ca,
      client,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    });

  it('describes a live operation token and forgets a spent one', async () => {
    const res = await vault.exchange(await exchangeParams(vault.ids, 'alice', AGENT_A));
    const token = res.json<{ access_token: string }>().access_token;
    const { payload } = await jwtVerify(token, createLocalJWKSet(await vaultJwks()));
    const live = await introspect(token);
    expect(live.status).toBe(200);
    expect(live.json()).toStrictEqual({
      active: true,
      sub: `${vault.ids.idp.issuer}#alice`,
      act: { sub: AGENT_A },
      scope: 'crm:records.read',
      aud: 'crm',
      exp: payload.exp,
      iat: payload.iat,
      jti: payload.jti,
      client_id: 'spiffe://dev.local/gateway',
      token_type: 'Bearer',
      cnf: { 'x5t#S256': gatewayThumbprint },
    });
    await vault.runtime.stores.tokens.consume(payload.jti!);
    expect((await introspect(token)).json()).toStrictEqual({ active: false });
  });

  it('is inactive for a forged or foreign token', async () => {
    expect((await introspect('not-a-jwt')).json()).toStrictEqual({ active: false });
    expect((await introspect(await vault.ids.userToken('alice'))).json()).toStrictEqual({ active: false });
  });
});

describe('discovery', () => {
  it('publishes RFC 8414 metadata naming the mTLS token endpoint', async () => {
    const res = await call(`${vault.publicUrl}/.well-known/oauth-authorization-server`, { ca: vault.pki.ca });
    expect(res.status).toBe(200);
    expect(res.json()).toStrictEqual({
      issuer: 'https://127.0.0.1:8443',
      token_endpoint: 'https://vault.internal.test:9443/exchange',
      introspection_endpoint: 'https://vault.internal.test:9443/introspect',
      jwks_uri: 'https://127.0.0.1:8443/.well-known/jwks.json',
      grant_types_supported: [GRANT_TYPE, 'urn:openid:params:grant-type:ciba'],
      backchannel_token_delivery_modes_supported: ['poll'],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: ['tls_client_auth'],
      introspection_endpoint_auth_methods_supported: ['tls_client_auth'],
      tls_client_certificate_bound_access_tokens: true,
      scopes_supported: ['crm:records.read', 'crm:records.write', 'crm:token.raw'],
      authorization_details_types_supported: ['crm'],
      mtls_endpoint_aliases: {
        token_endpoint: 'https://vault.internal.test:9443/exchange',
        introspection_endpoint: 'https://vault.internal.test:9443/introspect',
      },
    });
  });

  it('publishes the signing key without private members', async () => {
    const { keys } = await vaultJwks();
    expect(keys).toStrictEqual([{ ...vault.runtime.keys.signingKeys.active.publicJwk }]);
    expect(keys[0]).not.toHaveProperty('d');
  });
});

describe("releasing the raw upstream token with the grant's instance_url", () => {
  const raw = { requested_token_type: ACCESS_TOKEN_TYPE };
  const sfRaw = { resource: 'sf', scope: 'sf:token.raw', ...raw };
  let sfVault: ExchangeVault;
  beforeAll(async () => {
    sfVault = await startExchangeVault({
      providers: {
        crm: crmProvider,
        sf: {
          kind: 'salesforce',
          displayName: 'Salesforce',
          clientId: 'vault',
          loginUrl: 'https://127.0.0.1:9',
          allowPrivateNetwork: true,
          instanceHosts: ['.my.salesforce.com'],
          operations: { 'token.raw': { description: 'Raw token', methods: ['GET'], paths: ['/services/data/**'], releaseUpstreamToken: true } },
        },
      },
      agents: { [AGENT_A]: { displayName: 'Agent A', operations: ['crm:token.raw', 'sf:token.raw'] } },
    });
  });
  afterAll(() => sfVault?.close());

  it('releases it with an instance_url on the provider hosts', async () => {
    await sfVault.seedGrant(
      'carol',
      { provider: 'sf', instanceUrl: 'https://acme.my.salesforce.com', consent: { [AGENT_A]: ['sf:token.raw'] } },
      { accessToken: { value: 'sf-token-for-carol', expiresInMs: 3_600_000 } },
    );
    const res = await sfVault.exchange(await exchangeParams(sfVault.ids, 'carol', AGENT_A, sfRaw));
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ access_token: 'sf-token-for-carol', instance_url: 'https://acme.my.salesforce.com' });
  });

  it('refuses it, with the grant untouched and the refusal audited, when the stored instance_url is off the provider hosts', async () => {
    const refusal = { status: 502, body: { error: 'upstream_error', error_description: new UpstreamError().description } };
    const cases = [
      ['dave', 'sf', 'https://attacker.example', sfRaw],
      ['erin', 'sf', 'https://acme.my.salesforce.com.attacker.example', sfRaw],
      ['frank', 'sf', 'https://user:pw@acme.my.salesforce.com', sfRaw],
      // A provider with a configured API base: only that base's host.
      ['heidi', 'crm', 'https://attacker.example', { scope: 'crm:token.raw', ...raw }],
    ] as const;
    for (const [user, provider, instanceUrl, params] of cases) {
      const grant = await sfVault.seedGrant(
        user,
        { provider, instanceUrl, consent: { [AGENT_A]: [`${provider}:token.raw`] } },
        { accessToken: { value: `token-for-${user}`, expiresInMs: 3_600_000 } },
      );
      const res = await sfVault.exchange(await exchangeParams(sfVault.ids, user, AGENT_A, params));
      expect({ instanceUrl, status: res.status, body: res.json() }).toStrictEqual({ instanceUrl, ...refusal, body: withRequestId(res, refusal.body) });
      expect(res.text).not.toContain(`token-for-${user}`);
      expect(await sfVault.runtime.stores.grants.get(grant.id)).toStrictEqual(grant);
      expect((await sfVault.auditRecords()).at(-1)).toMatchObject({ action: 'token.exchange', decision: 'error', grant: grant.id });
    }
  });
});
