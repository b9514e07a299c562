/**
 * Redis goes away right after the provider (oidc-provider with rotation and reuse detection) has
 * answered a refresh with a new refresh token. The new token is never dropped: callers get 503
 * while Redis is gone, the token waits in memory and in the encrypted spool, and once Redis
 * answers it is committed and audited. Also when the vault process is stopped during the
 * outage (SIGTERM, or SIGKILL once the spool file exists) and started again.
 * Outcome every time: 0 grants lost, 0 grants revoked upstream, 1 upstream refresh.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOAuthServer, type FakeOAuthServer } from '../../../src/dev/fake-oauth-server.js';
import { TemporarilyUnavailable } from '../../../src/errors.js';
import { openRefreshToken } from '../../../src/grants/secrets.js';
import type { Grant } from '../../../src/store/grant-store.js';
import type { ExchangeVault } from '../../helpers/exchange-fixture.js';
import { fakeClient } from '../../helpers/fake-providers/catalog.js';
import type { Response } from '../../helpers/https-client.js';
import { startRedis, type RedisHandle } from '../../helpers/redis-server.js';
import { withRequestId } from '../../helpers/request-id.js';
import { seedSalesforceGrant, startSalesforceVault, storm } from '../../helpers/salesforce-vault.js';
import { startVaultChild, type VaultChild } from '../../helpers/vault-child.js';

/** How long the provider holds back its answer after rotating: Redis is killed in between. */
const ANSWER_DELAY_MS = 400;
const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: new TemporarilyUnavailable().description };

let redis: RedisHandle;
let salesforce: FakeOAuthServer;
let vault: ExchangeVault;

beforeAll(async () => {
  // Every acknowledged write is on disk before Redis is SIGKILLed, so a kill loses nothing the vault
  // was told; on the command line, so it holds after each restart too.
  redis = await startRedis(['--appendfsync', 'always']);
  salesforce = await startFakeOAuthServer({ profile: 'salesforce', clients: [fakeClient] });
  vault = await startSalesforceVault({ salesforce: { server: salesforce } }, redis.url);
});

afterAll(async () => {
  await vault?.close();
  await salesforce?.stop();
  await redis?.stop();
});

const exchangeVia = async (url: string, user: string): Promise<Response> => (await storm(vault, url, 'salesforce', user, 1))[0]!;

function expectUnavailable(res: Response): void {
  expect(res.status).toBe(503);
  expect(res.headers['retry-after']).toBe('1');
  expect(res.json()).toStrictEqual(withRequestId(res, UNAVAILABLE));
}

/** Starts an exchange that refreshes, and kills Redis as soon as the provider has rotated (before its answer leaves). */
async function rotateThenKillRedis(url: string, user: string): Promise<Promise<Response>> {
  const refreshes = salesforce.refreshes;
  salesforce.setSlowTokenEndpoint(ANSWER_DELAY_MS);
  const answer = exchangeVia(url, user);
  while (salesforce.refreshes === refreshes) await sleep(2);
  await redis.kill();
  salesforce.setSlowTokenEndpoint(0);
  return answer;
}

async function eventually200(url: string, user: string, withinMs: number): Promise<Response> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    const res = await exchangeVia(url, user);
    if (res.status === 200 || performance.now() > deadline) return res;
    expectUnavailable(res);
    await sleep(100);
  }
}

/**
 * The grant holds the refresh token the provider considers current, after `refreshes` upstream
 * refreshes (a restarted process has lost the access token and refreshes once more, with the new
 * token), each audited once.
 */
async function expectGrantKept(grant: Grant, before: { refreshes: number; revoked: number; invalid: number }, refreshes = 1): Promise<void> {
  expect(salesforce.refreshes - before.refreshes).toBe(refreshes);
  expect(salesforce.revokedGrants - before.revoked).toBe(0);
  expect(salesforce.invalidGrants - before.invalid).toBe(0);
  const stored = (await vault.runtime.stores.grants.get(grant.id))!;
  expect({ status: stored.status, version: stored.version }).toStrictEqual({ status: 'active', version: 1 + refreshes });
  const current = openRefreshToken(vault.runtime.envelope, stored);
  expect(current).not.toBe(openRefreshToken(vault.runtime.envelope, grant));
  expect(await salesforce.isRefreshTokenActive(current)).toBe(true);
  const rotated = (await vault.auditRecords()).filter((r) => r.action === 'upstream.refresh' && r.grant === grant.id && r.decision === 'allow');
  expect(rotated).toHaveLength(refreshes);
}

const counters = () => ({ refreshes: salesforce.refreshes, revoked: salesforce.revokedGrants, invalid: salesforce.invalidGrants });

describe('a rotated refresh token survives a Redis outage', () => {
  for (const outageMs of [300, 1_000, 3_000, 10_000]) {
    it(`Redis down ${outageMs / 1000} s right after the rotation: the grant is kept`, { timeout: 60_000 }, async () => {
      const user = `outage-${outageMs}`;
      const grant = await seedSalesforceGrant(vault, salesforce, 'salesforce', user);
      const before = counters();
      const first = await rotateThenKillRedis(vault.internalUrl, user);
      expectUnavailable(await first);
      // While Redis is gone every exchange of this grant is refused, and none reaches the provider.
      if (outageMs >= 1_000) expectUnavailable(await exchangeVia(vault.internalUrl, user));
      await sleep(outageMs);
      await redis.restart();
      const res = await eventually200(vault.internalUrl, user, 10_000);
      expect(res.status).toBe(200);
      await expectGrantKept(grant, before);
    });
  }
});

describe('a rotated refresh token survives the vault process being stopped during the outage', () => {
  let children: VaultChild[] = [];
  const spoolDir = () => join(vault.pki.dir, 'child-spool');
  const spooled = async () => (await readdir(spoolDir())).filter((f) => f.endsWith('.json'));
  const spoolEmptiedWithin = async (ms: number) => {
    const deadline = performance.now() + ms;
    while ((await spooled()).length > 0 && performance.now() < deadline) await sleep(50);
    return spooled();
  };
  const startChild = async (name: string) => {
    const raw = vault.rawConfig as { store: Record<string, unknown> };
    const child = await startVaultChild({ ...vault.rawConfig, store: { ...raw.store, spoolDir: spoolDir() } }, vault.pki.dir, name);
    children.push(child);
    return child;
  };

  afterAll(async () => {
    await Promise.all(children.map((c) => c.stop()));
    children = [];
  });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`${signal} during the outage, started again: the spool is replayed and the grant is kept`, { timeout: 180_000 }, async () => {
      const user = `stopped-${signal}`;
      const grant = await seedSalesforceGrant(vault, salesforce, 'salesforce', user);
      const before = counters();
      const child = await startChild(`vault-${signal}`);
      const first = await rotateThenKillRedis(child.internalUrl, user);
      expectUnavailable(await first);
      // The 503 leaves only once the spool file is on disk: SIGKILL from here on loses nothing.
      expect(await spooled()).toHaveLength(1);
      await child.kill(signal);
      const next = await startChild(`vault-${signal}-2`);
      expectUnavailable(await exchangeVia(next.internalUrl, user));
      await redis.restart();
      const res = await eventually200(next.internalUrl, user, 20_000);
      expect(res.status).toBe(200);
      await expectGrantKept(grant, before, 2);
      // The answering refresh spooled its own rotation too; its file goes once that fsync has landed, after the answer.
      expect(await spoolEmptiedWithin(10_000)).toStrictEqual([]);
    });
  }
});
