/**
 * Two vault processes, and a Redis outage longer than the refresh lock's lease right after the
 * provider (oidc-provider with rotation and reuse detection) rotated a grant's refresh token in
 * process A. When Redis answers again, process B asks for the same grant before A has committed
 * (A is held stopped for a moment, the widest form of that race). A lease that had simply expired
 * would let B take the lock and present the spent refresh token: the provider would revoke the
 * grant. The lapsed lease is still A's (src/store/redis/lock-scripts.ts): B waits, A extends it
 * and commits, B is answered from A's result. 1 upstream refresh, 0 revoked, the grant kept.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOAuthServer, type FakeOAuthServer } from '../../../src/dev/fake-oauth-server.js';
import { TemporarilyUnavailable } from '../../../src/errors.js';
import { openRefreshToken } from '../../../src/grants/secrets.js';
import type { ExchangeVault } from '../../helpers/exchange-fixture.js';
import { fakeClient } from '../../helpers/fake-providers/catalog.js';
import type { Response } from '../../helpers/https-client.js';
import { startRedis, type RedisHandle } from '../../helpers/redis-server.js';
import { withRequestId } from '../../helpers/request-id.js';
import { seedSalesforceGrant, startSalesforceVault, storm } from '../../helpers/salesforce-vault.js';
import { startVaultChild, type VaultChild } from '../../helpers/vault-child.js';

/**
 * The provider's timeout; the refresh lock's lease is 2 × this + 2 s (src/grants/upstream-access.ts
 * lockTtlMs): 5 s. Far above the answer delay, so A never loses the answer on a loaded machine.
 */
const PROVIDER_TIMEOUT_MS = 1_500;
const LEASE_MS = 2 * PROVIDER_TIMEOUT_MS + 2_000;
/** How long the provider holds back its answer after rotating: Redis is killed in between. */
const ANSWER_DELAY_MS = 200;
const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: new TemporarilyUnavailable().description };

let redis: RedisHandle;
let salesforce: FakeOAuthServer;
let vaultB: ExchangeVault;
let vaultA: VaultChild;

beforeAll(async () => {
  // Every acknowledged write is on disk before Redis is SIGKILLed, so a kill loses nothing the vault
  // was told; on the command line, so it holds after each restart too.
  redis = await startRedis(['--appendfsync', 'always']);
  salesforce = await startFakeOAuthServer({ profile: 'salesforce', clients: [fakeClient] });
  vaultB = await startSalesforceVault({ salesforce: { server: salesforce, extra: { timeoutMs: PROVIDER_TIMEOUT_MS } } }, redis.url);
  const raw = vaultB.rawConfig as { store: Record<string, unknown> };
  vaultA = await startVaultChild({ ...vaultB.rawConfig, store: { ...raw.store, spoolDir: join(vaultB.pki.dir, 'spool-a') } }, vaultB.pki.dir, 'vault-a');
}, 120_000);

afterAll(async () => {
  vaultA?.resume();
  await vaultA?.stop();
  await vaultB?.close();
  await salesforce?.stop();
  await redis?.stop();
});

const exchangeVia = async (url: string, user: string): Promise<Response> => (await storm(vaultB, url, 'salesforce', user, 1))[0]!;

describe('a Redis outage longer than the refresh lock lease, two vault processes', () => {
  it('the process holding the rotation keeps the lock: the other never presents the spent refresh token', { timeout: 90_000 }, async () => {
    const user = 'lease-outage';
    const grant = await seedSalesforceGrant(vaultB, salesforce, 'salesforce', user);
    const before = { refreshes: salesforce.refreshes, revoked: salesforce.revokedGrants, invalid: salesforce.invalidGrants };

    // A refreshes; the provider rotates; Redis dies before A can commit.
    salesforce.setSlowTokenEndpoint(ANSWER_DELAY_MS);
    const answerA = exchangeVia(vaultA.internalUrl, user);
    while (salesforce.refreshes === before.refreshes) await sleep(2);
    await redis.kill();
    salesforce.setSlowTokenEndpoint(0);
    const resA = await answerA;
    expect({ status: resA.status, body: resA.json() }).toStrictEqual({ status: 503, body: withRequestId(resA, UNAVAILABLE) });
    // A holds the rotated token (its 503 leaves once the spool file is written).
    expect((await readdir(join(vaultB.pki.dir, 'spool-a'))).filter((f) => f.endsWith('.json'))).toHaveLength(1);

    // Down for twice the lease: the lease has run out when Redis answers again.
    await sleep(2 * LEASE_MS);
    vaultA.pause();
    const answersB: Response[] = [];
    try {
      await redis.restart();
      // B asks (again while its own connection comes back) and meets the lapsed lease while A is
      // stopped; A runs again well within the grace (one lease).
      const resumeA = sleep(LEASE_MS / 3).then(() => vaultA.resume());
      const deadline = performance.now() + 30_000;
      while (answersB.at(-1)?.status !== 200 && performance.now() < deadline) {
        const res = await exchangeVia(vaultB.internalUrl, user);
        answersB.push(res);
        if (res.status !== 200) expect({ status: res.status, body: res.json() }).toStrictEqual({ status: 503, body: withRequestId(res, UNAVAILABLE) });
      }
      await resumeA;
    } finally {
      vaultA.resume();
    }

    expect(answersB.at(-1)?.status).toBe(200);
    expect({
      refreshes: salesforce.refreshes - before.refreshes,
      revoked: salesforce.revokedGrants - before.revoked,
      invalid: salesforce.invalidGrants - before.invalid,
    }).toStrictEqual({
      refreshes: 1,
      revoked: 0,
      invalid: 0,
    });
    const stored = (await vaultB.runtime.stores.grants.get(grant.id))!;
    expect({ status: stored.status, version: stored.version }).toStrictEqual({ status: 'active', version: 2 });
    const current = openRefreshToken(vaultB.runtime.envelope, stored);
    expect(current).not.toBe(openRefreshToken(vaultB.runtime.envelope, grant));
    expect(await salesforce.isRefreshTokenActive(current)).toBe(true);
  });
});
