/**
 * Refresh storms against a Salesforce-like upstream with rotation and reuse
 * detection: one upstream refresh no matter how many exchanges, in one vault
 * process or in two sharing Redis; a slow upstream never yields a second
 * refresh. A naive vault loses the user's grant here (measured against oidc-provider: 50 concurrent
 * refreshes → 1 success, 49 invalid_grant, grant revoked).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOAuthServer, type FakeOAuthServer } from '../../../src/dev/fake-oauth-server.js';
import { openRefreshToken } from '../../../src/grants/secrets.js';
import { TemporarilyUnavailable, UpstreamError } from '../../../src/errors.js';
import type { ExchangeVault } from '../../helpers/exchange-fixture.js';
import { fakeClient } from '../../helpers/fake-providers/catalog.js';
import { startRedis, type RedisHandle } from '../../helpers/redis-server.js';
import { seedSalesforceGrant, startSalesforceVault, storm } from '../../helpers/salesforce-vault.js';
import { startVaultChild, type VaultChild } from '../../helpers/vault-child.js';
import { withRequestId } from '../../helpers/request-id.js';

let redis: RedisHandle;
let salesforce: FakeOAuthServer;
let slow: FakeOAuthServer;
let down: FakeOAuthServer;
let vault: ExchangeVault;
let second: VaultChild;

beforeAll(async () => {
  redis = await startRedis();
  [salesforce, slow, down] = await Promise.all([
    startFakeOAuthServer({ profile: 'salesforce', clients: [fakeClient] }),
    startFakeOAuthServer({ profile: 'salesforce', clients: [fakeClient] }),
    startFakeOAuthServer({ profile: 'salesforce', clients: [fakeClient] }),
  ]);
  // The slow org's token endpoint answers after 3 s; the vault gives up after 300 ms, with a lock TTL of 2.6 s.
  vault = await startSalesforceVault(
    { salesforce: { server: salesforce }, slowforce: { server: slow, extra: { timeoutMs: 300 } }, downforce: { server: down } },
    redis.url,
  );
  second = await startVaultChild(vault.rawConfig, vault.pki.dir);
});

afterAll(async () => {
  await second?.stop();
  await vault?.close();
  await Promise.all([salesforce?.stop(), slow?.stop(), down?.stop().catch(() => {})]);
  await redis?.stop();
});

async function expectRotatedAndLive(grantId: string, previous: string) {
  const grant = (await vault.runtime.stores.grants.get(grantId))!;
  expect(grant.status).toBe('active');
  expect(grant.version).toBe(2);
  const current = openRefreshToken(vault.runtime.envelope, grant);
  expect(current).not.toBe(previous);
  expect(await salesforce.isRefreshTokenActive(current)).toBe(true);
}

describe('refresh storm', () => {
  it('200 concurrent exchanges on an expired access token: 1 upstream refresh, 0 revoked grants, 200 successes', async () => {
    const grant = await seedSalesforceGrant(vault, salesforce, 'salesforce', 'alice');
    const refreshes = salesforce.refreshes;
    const revoked = salesforce.revokedGrants;
    const responses = await storm(vault, vault.internalUrl, 'salesforce', 'alice', 200);
    expect(responses.map((r) => r.status)).toStrictEqual(Array(200).fill(200));
    expect(salesforce.refreshes - refreshes).toBe(1);
    expect(salesforce.revokedGrants - revoked).toBe(0);
    await expectRotatedAndLive(grant.id, openRefreshToken(vault.runtime.envelope, grant));
    const refreshAudit = (await vault.auditRecords()).filter((r) => r.action === 'upstream.refresh' && r.grant === grant.id);
    expect(refreshAudit.map((r) => [r.decision, r.reason])).toStrictEqual([['allow', 'rotated']]);
  });

  it('the same with two vault processes sharing Redis', async () => {
    const grant = await seedSalesforceGrant(vault, salesforce, 'salesforce', 'bob');
    const refreshes = salesforce.refreshes;
    const revoked = salesforce.revokedGrants;
    const responses = (
      await Promise.all([storm(vault, vault.internalUrl, 'salesforce', 'bob', 100), storm(vault, second.internalUrl, 'salesforce', 'bob', 100)])
    ).flat();
    expect(responses.map((r) => r.status)).toStrictEqual(Array(200).fill(200));
    expect(salesforce.refreshes - refreshes).toBe(1);
    expect(salesforce.revokedGrants - revoked).toBe(0);
    await expectRotatedAndLive(grant.id, openRefreshToken(vault.runtime.envelope, grant));
  });

  it('an upstream slower than the lock TTL does not produce a second refresh', async () => {
    const grant = await seedSalesforceGrant(vault, slow, 'slowforce', 'carol');
    slow.setSlowTokenEndpoint(3_000);
    const requests = slow.tokenRequests;
    const first = (
      await Promise.all([storm(vault, vault.internalUrl, 'slowforce', 'carol', 20), storm(vault, second.internalUrl, 'slowforce', 'carol', 20)])
    ).flat();
    const upstreamError = { error: 'upstream_error', error_description: new UpstreamError().description };
    const link = `https://127.0.0.1:8443/connections/slowforce?agent=${encodeURIComponent('spiffe://dev.local/agent/a')}&operation=slowforce%3Arecords.read`;
    const consent = { error: 'consent_required', error_description: 'grant needs re-consent', error_uri: link };
    // Whoever held the lock lost the answer (502); everyone else saw the grant parked.
    for (const res of first) expect([withRequestId(res, upstreamError), withRequestId(res, consent)]).toContainEqual(res.json());
    expect(first.filter((r) => r.status === 502).length).toBeGreaterThan(0);
    // Wait past the lock TTL and the slow answer: still no second refresh.
    await new Promise((r) => setTimeout(r, 3_200));
    const later = await storm(vault, second.internalUrl, 'slowforce', 'carol', 10);
    for (const res of later) expect(res.json()).toStrictEqual(withRequestId(res, consent));
    expect(slow.tokenRequests - requests).toBe(1);
    expect(slow.revokedGrants).toBe(0);
    expect((await vault.runtime.stores.grants.get(grant.id))?.status).toBe('consent_required');
  });

  it('a provider that cannot be reached (nothing was sent) gets 503s and keeps the grant active', async () => {
    const grant = await seedSalesforceGrant(vault, down, 'downforce', 'dave');
    await down.stop();
    const responses = (
      await Promise.all([storm(vault, vault.internalUrl, 'downforce', 'dave', 10), storm(vault, second.internalUrl, 'downforce', 'dave', 10)])
    ).flat();
    for (const res of responses) {
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.json()).toStrictEqual(withRequestId(res, { error: 'temporarily_unavailable', error_description: new TemporarilyUnavailable().description }));
    }
    // Connection refused: the refresh token never left, so it is still the current one.
    expect(await vault.runtime.stores.grants.get(grant.id)).toMatchObject({ status: 'active', version: 1 });
    const failures = (await vault.auditRecords()).filter((r) => r.action === 'upstream.refresh' && r.grant === grant.id);
    expect(failures.length).toBeGreaterThan(0);
    for (const r of failures) expect([r.decision, r.reason]).toStrictEqual(['error', 'failed: unreachable']);
  });
});
