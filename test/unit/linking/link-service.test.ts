/**
 * The link flow's own checks, without HTTP: the `state` is single use, bound
 * to the browser session, the user and the provider, and dies with its
 * lifetime; a provider's refusal or failure creates nothing. The upstream is a
 * scripted stand-in for UpstreamOAuth (the integration tests run the same flow
 * against oidc-provider).
 */
import { expectLinkError } from '../../helpers/link-error.js';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAuditWriter } from '../../../src/audit/writer.js';
import { createEnvelope } from '../../../src/crypto/envelope.js';
import { Keyring } from '../../../src/crypto/keyring.js';
import { GrantRetirement } from '../../../src/grants/retire.js';
import { openRefreshToken } from '../../../src/grants/secrets.js';
import { LinkService } from '../../../src/linking/link-service.js';
import { ProviderCatalog } from '../../../src/providers/catalog.js';
import { providerSchema } from '../../../src/providers/schema.js';
import {
  UpstreamFailure,
  UpstreamInvalidGrant,
  type AuthorizationRequest,
  type CodeExchangeChecks,
  type UpstreamOAuth,
  type UpstreamTokens,
} from '../../../src/providers/upstream-oauth.js';
import { createMemoryStores } from '../../../src/store/memory/index.js';

const AGENT = 'spiffe://corp.example/agent/a';
const READ = 'salesforce:records.read';
const PUBLIC_URL = 'https://vault.example';
const TTL_SECONDS = 600;
const operations = { 'records.read': { description: 'Read records', methods: ['GET'], paths: ['/**'] } };
const catalog = new ProviderCatalog(
  {
    salesforce: providerSchema.parse({ kind: 'salesforce', displayName: 'Salesforce', clientId: 'c', scopes: ['api', 'refresh_token'], operations }),
    crm: providerSchema.parse({
      kind: 'oidc',
      displayName: 'CRM',
      clientId: 'c',
      issuer: 'https://crm.example',
      apiBaseUrl: 'https://crm.example/api',
      operations,
    }),
  },
  { [AGENT]: { displayName: 'Agent A', operations: [READ] } },
);

const alice = { id: 'session-of-alice', userId: 'https://idp.example|alice' };

/** A scripted provider: it answers the code exchange with `answer` and records what it was asked. */
function scriptedUpstream(answer: () => Promise<UpstreamTokens>) {
  const calls = { authorize: [] as AuthorizationRequest[], exchange: [] as CodeExchangeChecks[], revoked: [] as string[] };
  const upstream = {
    authorizationUrl: async (providerId: string, request: AuthorizationRequest) => {
      calls.authorize.push(request);
      const url = new URL(`https://${providerId}.example/authorize`);
      url.searchParams.set('state', request.state);
      return url;
    },
    exchangeCode: async (_providerId: string, _callback: URL, checks: CodeExchangeChecks) => {
      calls.exchange.push(checks);
      return answer();
    },
    revoke: async (_providerId: string, token: string) => void calls.revoked.push(token),
    introspect: async () => ({ active: false }),
  } as unknown as UpstreamOAuth;
  return { upstream, calls };
}

async function setup(
  answer: () => Promise<UpstreamTokens> = async () => ({ accessToken: 'at-1', refreshToken: 'rt-1', expiresAt: clock + 3_600_000, subject: 'sub-1' }),
) {
  const envelope = await createEnvelope(new Keyring([{ id: 'k1', key: randomBytes(32) }], 'k1'));
  const stores = createMemoryStores();
  const audit = createAuditWriter({ store: stores.audit, hmacKey: randomBytes(32) });
  const { upstream, calls } = scriptedUpstream(answer);
  const retirement = new GrantRetirement({ stores, envelope, upstream, audit, retry: { baseDelayMs: 1_000 } });
  const links = new LinkService({
    stores,
    envelope,
    catalog,
    upstream,
    audit,
    retirement,
    publicUrl: PUBLIC_URL,
    stateTtlSeconds: TTL_SECONDS,
    now: () => clock,
  });
  return { links, stores, envelope, calls };
}

let clock = Date.parse('2026-11-22T10:00:00.000Z');

/** The provider's redirect back to the vault for the request `redirect` started. */
function callback(redirect: URL, provider = 'salesforce', extra: Record<string, string> = { code: 'code-1' }): URL {
  const url = new URL(`/connections/${provider}/callback`, PUBLIC_URL);
  url.searchParams.set('state', redirect.searchParams.get('state')!);
  for (const [name, value] of Object.entries(extra)) url.searchParams.set(name, value);
  return url;
}

describe('the link flow', () => {
  it('links with the verifier, state and redirect URI of its own request, and brings back the deep link’s request', async () => {
    const { links, stores, envelope, calls } = await setup();
    const { redirect } = await links.begin(alice, 'salesforce', { agent: AGENT, operation: READ });
    const [request] = calls.authorize;
    expect(request).toStrictEqual({
      state: redirect.searchParams.get('state'),
      codeVerifier: expect.stringMatching(/^[\w-]{43,}$/) as string,
      redirectUri: `${PUBLIC_URL}/connections/salesforce/callback`,
      scope: 'api refresh_token',
    });
    expect(await links.complete(alice, 'salesforce', callback(redirect), 'req-1')).toStrictEqual({
      result: 'linked',
      grantId: (await stores.grants.listByUser(alice.userId))[0]?.id,
      request: { agent: AGENT, operation: READ },
      approve: false,
    });
    expect(calls.exchange).toStrictEqual([{ redirectUri: request!.redirectUri, codeVerifier: request!.codeVerifier, state: request!.state }]);
    const [grant] = await stores.grants.listByUser(alice.userId);
    expect(grant).toStrictEqual({
      id: expect.any(String) as string,
      userId: alice.userId,
      provider: 'salesforce',
      upstreamSubject: 'sub-1',
      scopes: ['api', 'refresh_token'],
      status: 'active',
      refreshToken: expect.any(String) as string,
      version: 1,
      consent: {},
      createdAt: clock,
      updatedAt: clock,
    });
    expect(openRefreshToken(envelope, grant!)).toBe('rt-1');
  });

  it('sends and checks a nonce for an OIDC provider only, and drops a deep-link request outside the admin ceiling', async () => {
    const { links, stores, calls } = await setup();
    const { redirect } = await links.begin(alice, 'crm', { agent: AGENT, operation: READ });
    const nonce = calls.authorize[0]?.nonce;
    expect(nonce).toMatch(/^[\w-]{43,}$/);
    const outcome = await links.complete(alice, 'crm', callback(redirect, 'crm'), 'req-1');
    expect(outcome).toStrictEqual({
      result: 'linked',
      grantId: (await stores.grants.listByUser(alice.userId))[0]?.id,
      request: { agent: undefined, operation: undefined },
      approve: false,
    });
    expect(calls.exchange[0]?.nonce).toBe(nonce);
  });

  it('refuses an unknown provider at either end', async () => {
    const { links } = await setup();
    await expectLinkError(links.begin(alice, 'nope'), 'TV_LINK_UNKNOWN_PROVIDER');
    const { redirect } = await links.begin(alice, 'salesforce');
    await expectLinkError(links.complete(alice, 'nope', callback(redirect), 'req-1'), 'TV_LINK_UNKNOWN_PROVIDER');
  });
});

describe('the link state', () => {
  it('is required, must be known, and is single use', async () => {
    const { links, calls } = await setup();
    await expectLinkError(
      links.complete(alice, 'salesforce', new URL('/connections/salesforce/callback?code=c', PUBLIC_URL), 'req-1'),
      'TV_LINK_STATE_MISSING',
    );
    await expectLinkError(
      links.complete(alice, 'salesforce', new URL('/connections/salesforce/callback?code=c&state=forged', PUBLIC_URL), 'req-1'),
      'TV_LINK_STATE_INVALID',
    );
    const { redirect } = await links.begin(alice, 'salesforce');
    await links.complete(alice, 'salesforce', callback(redirect), 'req-1');
    await expectLinkError(links.complete(alice, 'salesforce', callback(redirect), 'req-2'), 'TV_LINK_STATE_INVALID');
    expect(calls.exchange).toHaveLength(1);
  });

  it.each([
    ['another browser session of the same user', { ...alice, id: 'another-session' }],
    ['another user in the same session', { ...alice, userId: 'https://idp.example|mallory' }],
  ])('is refused from %s, and burnt for its own session', async (_name, other) => {
    const { links, stores, calls } = await setup();
    const { redirect } = await links.begin(alice, 'salesforce');
    await expectLinkError(links.complete(other, 'salesforce', callback(redirect), 'req-1'), 'TV_LINK_STATE_OTHER_SESSION');
    await expectLinkError(links.complete(alice, 'salesforce', callback(redirect), 'req-2'), 'TV_LINK_STATE_INVALID');
    expect(calls.exchange).toStrictEqual([]);
    expect(await stores.grants.listByUser(alice.userId)).toStrictEqual([]);
  });

  it('is refused on the callback of another provider (mix-up), and burnt', async () => {
    const { links, calls } = await setup();
    const { redirect } = await links.begin(alice, 'salesforce');
    await expectLinkError(links.complete(alice, 'crm', callback(redirect, 'crm'), 'req-1'), 'TV_LINK_STATE_OTHER_PROVIDER');
    await expectLinkError(links.complete(alice, 'salesforce', callback(redirect), 'req-2'), 'TV_LINK_STATE_INVALID');
    expect(calls.exchange).toStrictEqual([]);
  });

  it('dies with its lifetime even where the store still holds it', async () => {
    const { links, calls } = await setup();
    const { redirect } = await links.begin(alice, 'salesforce');
    clock += TTL_SECONDS * 1000;
    try {
      // The memory store's own TTL runs on the real clock, so only the recorded lifetime can refuse it here.
      await expectLinkError(links.complete(alice, 'salesforce', callback(redirect), 'req-1'), 'TV_LINK_STATE_EXPIRED');
    } finally {
      clock -= TTL_SECONDS * 1000;
    }
    expect(calls.exchange).toStrictEqual([]);
  });
});

describe('a provider that does not link', () => {
  it('refuses an error response without redeeming anything, and burns the state', async () => {
    const { links, calls } = await setup();
    const { redirect } = await links.begin(alice, 'salesforce');
    await expectLinkError(
      links.complete(alice, 'salesforce', callback(redirect, 'salesforce', { error: 'access_denied' }), 'req-1'),
      'TV_LINK_PROVIDER_REFUSED',
    );
    expect(calls.exchange).toStrictEqual([]);
    await expectLinkError(links.complete(alice, 'salesforce', callback(redirect), 'req-2'), 'TV_LINK_STATE_INVALID');
  });

  it.each([
    ['invalid_grant', new UpstreamInvalidGrant('forged code'), 'TV_LINK_PROVIDER_REFUSED'],
    ['a timeout', new UpstreamFailure('timeout'), 'TV_LINK_PROVIDER_TIMEOUT'],
    ['a 5xx', new UpstreamFailure('unavailable', 503), 'TV_LINK_PROVIDER_FAILED'],
    ['a failed response check', Object.assign(new Error('iss mismatch'), { code: 'OAUTH_INVALID_RESPONSE' }), 'TV_LINK_PROVIDER_FAILED'],
  ] as const)('maps %s of the code exchange to its code and stores nothing', async (_name, failure, code) => {
    const { links, stores } = await setup(async () => Promise.reject(failure));
    const { redirect } = await links.begin(alice, 'salesforce');
    await expectLinkError(links.complete(alice, 'salesforce', callback(redirect), 'req-1'), code);
    expect(await stores.grants.listByUser(alice.userId)).toStrictEqual([]);
  });

  it('revokes what it got and stores nothing without a refresh token or a subject', async () => {
    const noRefresh = await setup(async () => ({ accessToken: 'at-1', expiresAt: clock + 3_600_000, subject: 'sub-1' }));
    await expectLinkError(
      noRefresh.links.complete(alice, 'salesforce', callback((await noRefresh.links.begin(alice, 'salesforce')).redirect), 'req-1'),
      'TV_LINK_NO_REFRESH_TOKEN',
    );
    expect(noRefresh.calls.revoked).toStrictEqual(['at-1']);
    const noSubject = await setup(async () => ({ accessToken: 'at-1', refreshToken: 'rt-1', expiresAt: clock + 3_600_000 }));
    await expectLinkError(
      noSubject.links.complete(alice, 'salesforce', callback((await noSubject.links.begin(alice, 'salesforce')).redirect), 'req-1'),
      'TV_LINK_NO_SUBJECT',
    );
    expect(noSubject.calls.revoked).toStrictEqual(['rt-1']);
    expect(await noSubject.stores.grants.listByUser(alice.userId)).toStrictEqual([]);
  });
});
