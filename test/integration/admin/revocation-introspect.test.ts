/**
 * Revoking a grant through the admin API (one, or in
 * bulk) makes its outstanding operation tokens — really minted by /exchange —
 * fail at /introspect, and calls the provider's RFC 7009 revocation endpoint
 * (oidc-provider confirms the upstream grant is gone). Real Redis, real mTLS,
 * a fake Salesforce org holding real refresh tokens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOAuthServer, type FakeOAuthServer } from '../../../src/dev/fake-oauth-server.js';
import { openRefreshToken } from '../../../src/grants/secrets.js';
import type { Grant } from '../../../src/store/grant-store.js';
import type { OperationTokenRecord } from '../../../src/store/token-store.js';
import { adminCall } from '../../helpers/admin-client.js';
import { AGENT_A, exchangeParams, type ExchangeVault } from '../../helpers/exchange-fixture.js';
import { fakeClient } from '../../helpers/fake-providers/catalog.js';
import { call } from '../../helpers/https-client.js';
import { startRedis, type RedisHandle } from '../../helpers/redis-server.js';
import { seedSalesforceGrant, startSalesforceVault } from '../../helpers/salesforce-vault.js';
import { withRequestId } from '../../helpers/request-id.js';

let redis: RedisHandle;
/** Two orgs, so one user can hold two grants the bulk revoke must both reach. */
const orgs: Record<string, FakeOAuthServer> = {};
let vault: ExchangeVault;

beforeAll(async () => {
  redis = await startRedis();
  for (const org of ['salesforce', 'orgb']) orgs[org] = await startFakeOAuthServer({ profile: 'salesforce', clients: [fakeClient] });
  vault = await startSalesforceVault({ salesforce: { server: orgs.salesforce! }, orgb: { server: orgs.orgb! } }, redis.url);
});
afterAll(async () => {
  await vault?.close();
  await Promise.all(Object.values(orgs).map((o) => o.stop()));
  await redis?.stop();
});

const INACTIVE = { active: false };
/** With the grant gone, a new exchange asks for a new link (consent_required with the deep link, src/grants/consent-link.ts). */
const relinkRequired = (org: string) => ({
  status: 400,
  body: {
    error: 'consent_required',
    // The vault tells the gateway which rule failed (src/error-rules.ts).
    error_description: 'user has not linked this provider',
    error_uri: `https://127.0.0.1:8443/connections/${org}?agent=${encodeURIComponent(AGENT_A)}&operation=${encodeURIComponent(`${org}:records.read`)}`,
  },
});

const exchangeFor = async (user: string, org = 'salesforce') =>
  vault.exchange(await exchangeParams(vault.ids, user, AGENT_A, { resource: org, scope: `${org}:records.read` }));

const introspect = async (token: string) => {
  const res = await call(`${vault.internalUrl}/introspect`, {
    method: 'POST',
    ca: vault.pki.ca,
    client: vault.pki.gateway,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  });
  expect(res.status).toBe(200);
  return res.json<{ active: boolean; jti?: string }>();
};

interface Minted {
  org: string;
  grant: Grant;
  token: string;
  record: OperationTokenRecord;
  /** The grant at the fake provider, found from the refresh token the vault holds now (rotated by the exchange). */
  upstreamGrant: string;
}

/** A grant with a real upstream refresh token, and an operation token minted for it by a real /exchange (which refreshed upstream). */
async function mintFor(user: string, org = 'salesforce'): Promise<Minted> {
  const upstream = orgs[org]!;
  const seeded = await seedSalesforceGrant(vault, upstream, org, user);
  const res = await exchangeFor(user, org);
  expect(res.status).toBe(200);
  const token = res.json<{ access_token: string }>().access_token;
  const live = await introspect(token);
  expect(live).toMatchObject({ active: true, sub: seeded.userId, act: { sub: AGENT_A }, scope: `${org}:records.read` });
  const record = (await vault.runtime.stores.tokens.get(live.jti!))!;
  expect(record.grantId).toBe(seeded.id);
  const grant = (await vault.runtime.stores.grants.get(seeded.id))!;
  const upstreamGrant = (await upstream.grantIdOf(openRefreshToken(vault.runtime.envelope, grant)))!;
  expect(await upstream.grantExists(upstreamGrant)).toBe(true);
  return { org, grant, token, record, upstreamGrant };
}

/** Dead everywhere: /introspect, a fresh /exchange, and upstream. */
async function expectRevoked({ org, token, upstreamGrant }: Minted, user: string): Promise<void> {
  expect(await introspect(token)).toStrictEqual(INACTIVE);
  const again = await exchangeFor(user, org);
  expect({ status: again.status, body: again.json() }).toStrictEqual({ ...relinkRequired(org), body: withRequestId(again, relinkRequired(org).body) });
  expect(await orgs[org]!.grantExists(upstreamGrant)).toBe(false);
  expect(orgs[org]!.revokedGrantIds).toContain(upstreamGrant);
}

describe('revocation reaches outstanding operation tokens and the provider', () => {
  it('single revoke: the minted token is inactive at /introspect and the upstream grant is gone', async () => {
    const minted = await mintFor('alice');
    const res = await adminCall(vault, `/admin/grants/${minted.grant.id}/revoke`, { method: 'POST', body: { reason: 'incident-9' } });
    expect({ status: res.status, body: res.json() }).toStrictEqual({ status: 200, body: { revoked: true } });
    await expectRevoked(minted, 'alice');
  });

  it('bulk revoke by user: every minted token inactive, each upstream grant gone, counted in the report', async () => {
    const first = await mintFor('bob', 'salesforce');
    const second = await mintFor('bob', 'orgb');
    const res = await adminCall(vault, '/admin/grants/revoke', { method: 'POST', body: { user: first.grant.userId, reason: 'offboarding' } });
    expect({ status: res.status, body: res.json() }).toStrictEqual({ status: 200, body: { revoked: 2, upstream_revoked: 2, upstream_failed: 0 } });
    await expectRevoked(first, 'bob');
    await expectRevoked(second, 'bob');
  });

  it('bulk revoke by agent reaches every user the agent acted for', async () => {
    const carol = await mintFor('carol');
    const dave = await mintFor('dave', 'orgb');
    const res = await adminCall(vault, '/admin/grants/revoke', { method: 'POST', body: { agent: AGENT_A, reason: 'agent-compromised' } });
    expect({ status: res.status, body: res.json() }).toStrictEqual({ status: 200, body: { revoked: 2, upstream_revoked: 2, upstream_failed: 0 } });
    await expectRevoked(carol, 'carol');
    await expectRevoked(dave, 'dave');
  });

  it('a token record that survived the revocation (stored by a racing exchange) is still inactive', async () => {
    const minted = await mintFor('erin');
    const { stores } = vault.runtime;
    // The provider is down: the grant stays, revoked, until the retry worker reaches the provider.
    const down = orgs.salesforce!;
    await down.stop();
    try {
      const res = await adminCall(vault, `/admin/grants/${minted.grant.id}/revoke`, { method: 'POST', body: { reason: 'incident-10' } });
      expect({ status: res.status, body: res.json() }).toStrictEqual({ status: 200, body: { revoked: true } });
    } finally {
      orgs.salesforce = await startFakeOAuthServer({ profile: 'salesforce', clients: [fakeClient], port: Number(new URL(down.origin).port) });
    }
    expect((await stores.grants.get(minted.grant.id))?.status).toBe('revoked');
    // What an exchange that read the grant just before the revocation does just after it.
    await stores.tokens.put(minted.record, minted.record.expiresAt - Date.now());
    expect(await stores.tokens.get(minted.record.jti)).toStrictEqual(minted.record);
    expect(await introspect(minted.token)).toStrictEqual(INACTIVE);
    // And once the grant is deleted outright.
    await stores.grants.delete(minted.grant.id);
    await stores.tokens.put(minted.record, minted.record.expiresAt - Date.now());
    expect(await introspect(minted.token)).toStrictEqual(INACTIVE);
  });
});
