/**
 * Three vault processes on one Redis Cluster (3 masters, 1 replica each): exchange and forward on
 * each, refresh storms spread over all three (each: 1 upstream refresh, 0 revoked grants, 200 of
 * 200 answered, no 503), a kill switch engaged through one process refusing every exchange sent after its answer on
 * all three, and an audit chain that verifies. Real processes, mTLS, oidc-provider.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessDenied } from '../../../src/errors.js';
import { adminCall } from '../../helpers/admin-client.js';
import { AGENT_A, exchangeParams, JWT_TYPE } from '../../helpers/exchange-fixture.js';
import { FAKE_CLIENT_ID } from '../../helpers/fake-providers/catalog.js';
import { startForwardWorld, type ForwardWorld } from '../../helpers/forward-fixture.js';
import { call } from '../../helpers/https-client.js';
import { startRedisCluster, type RedisClusterHandle } from '../../helpers/redis-cluster.js';
import { withRequestId } from '../../helpers/request-id.js';
import { storm } from '../../helpers/salesforce-vault.js';
import { startVaultChild, type VaultChild } from '../../helpers/vault-child.js';

let cluster: RedisClusterHandle;
let w: ForwardWorld;
let children: VaultChild[];
/** The internal URLs of the three vault processes (this one and two children). */
let vaults: string[];

beforeAll(async () => {
  cluster = await startRedisCluster();
  w = await startForwardWorld({ store: { kind: 'redis', redis: { mode: 'cluster', nodes: cluster.urls } } });
  children = await Promise.all([1, 2].map((n) => startVaultChild(w.vault.rawConfig, w.vault.pki.dir, `cluster-${n}`)));
  vaults = [w.vault.internalUrl, ...children.map((c) => c.internalUrl)];
}, 240_000);

afterAll(async () => {
  await Promise.all((children ?? []).map((c) => c.stop()));
  await w?.close();
  await cluster?.stop();
});

async function exchangeAt(url: string, user = 'alice') {
  return call(`${url}/exchange`, {
    method: 'POST',
    ca: w.vault.pki.ca,
    client: w.vault.pki.gateway,
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(await exchangeParams(w.vault.ids, user, AGENT_A, { scope: 'crm:records.read' })).toString(),
  });
}

describe('three vault processes on a Redis Cluster', () => {
  it('exchange on each process, forward on each with a token another one minted', async () => {
    for (const [i, url] of vaults.entries()) {
      const res = await exchangeAt(url);
      expect(res.status).toBe(200);
      expect(res.json()).toMatchObject({ token_type: 'Bearer', issued_token_type: JWT_TYPE });
      const token = res.json<{ access_token: string }>().access_token;
      const next = vaults[(i + 1) % vaults.length]!;
      const forwarded = await call(`${next}/forward/crm/records/${i}`, {
        ca: w.vault.pki.ca,
        client: w.vault.pki.gateway,
        headers: { authorization: `Bearer ${token}` },
      });
      expect(forwarded.status).toBe(200);
      expect(forwarded.json()).toStrictEqual({ method: 'GET', path: `/api/records/${i}`, sub: 'alice', bytes: 0 });
    }
  });

  it.each([1, 2, 3])('refresh storm %i over the three processes: 1 upstream refresh, 0 revoked grants, 200 of 200 answered', async (round) => {
    const user = `storm-${round}`;
    const { refreshToken } = await w.oauth.issueRefreshTokenFor({ accountId: 'bob', clientId: FAKE_CLIENT_ID, scope: 'offline_access contacts.read' });
    const grant = await w.vault.seedGrant(user, { consent: { [AGENT_A]: ['crm:records.read'] } }, { refreshToken, accessToken: null });
    const refreshes = w.oauth.refreshes;
    const revoked = w.oauth.revokedGrants;
    const shares = [67, 67, 66];
    const perProcess = await Promise.all(vaults.map((url, i) => storm(w.vault, url, 'crm', user, shares[i]!)));
    expect(perProcess.map((responses) => responses.map((r) => r.status))).toStrictEqual(shares.map((n) => Array(n).fill(200)));
    expect(w.oauth.refreshes - refreshes).toBe(1);
    expect(w.oauth.revokedGrants - revoked).toBe(0);
    expect(await w.vault.runtime.stores.grants.get(grant.id)).toMatchObject({ status: 'active', version: 2 });
  });

  it('a kill switch engaged through one process refuses every exchange sent after its answer, on all three', async () => {
    const carol = await w.vault.seedGrant('carol', { consent: { [AGENT_A]: ['crm:records.read'] } });
    const sw = { scope: 'user', target: carol.userId };
    for (const url of vaults) expect((await exchangeAt(url, 'carol')).status).toBe(200);
    const engaged = await adminCall({ internalUrl: vaults[1]!, pki: w.vault.pki }, '/admin/kill-switches', {
      method: 'POST',
      body: { ...sw, reason: 'cluster-test' },
    });
    expect(engaged.status).toBe(200);
    // No wait: each exchange confirms the kill-switch epoch in its own round trip to the {ks} shard.
    const after = await Promise.all(vaults.map((url) => exchangeAt(url, 'carol')));
    for (const res of after) {
      expect(res.json()).toStrictEqual(withRequestId(res, { error: 'access_denied', error_description: new AccessDenied('').description }));
    }
    const released = await adminCall({ internalUrl: vaults[2]!, pki: w.vault.pki }, `/admin/kill-switches/user/${encodeURIComponent(sw.target)}`, {
      method: 'DELETE',
    });
    expect(released.status).toBe(200);
    for (const url of vaults) expect((await exchangeAt(url, 'carol')).status).toBe(200);
  });

  it('the audit chains the three processes wrote verify', async () => {
    const heads = await w.vault.runtime.stores.audit.heads();
    const records = heads.reduce((sum, head) => sum + (head?.seq ?? 0), 0);
    const res = await adminCall(w.vault, '/admin/audit/verify');
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ ok: true, records });
  });
});
