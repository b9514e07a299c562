/**
 * Redis killed (SIGKILL) in the middle of exchange load: every answer is
 * either a token whose record and audit record are in Redis, or a 503; once
 * Redis restarts on its AOF, every grant exchanges again.
 */
import { decodeJwt } from 'jose';
import { Agent } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOAuthServer, type FakeOAuthServer } from '../../../src/dev/fake-oauth-server.js';
import { TemporarilyUnavailable } from '../../../src/errors.js';
import { AGENT_A, exchangeParams, type ExchangeVault } from '../../helpers/exchange-fixture.js';
import { fakeClient } from '../../helpers/fake-providers/catalog.js';
import { call, type Response } from '../../helpers/https-client.js';
import { startRedis, type RedisHandle } from '../../helpers/redis-server.js';
import { seedSalesforceGrant, startSalesforceVault } from '../../helpers/salesforce-vault.js';
import { withRequestId } from '../../helpers/request-id.js';

let redis: RedisHandle;
let salesforce: FakeOAuthServer;
let vault: ExchangeVault;
let agent: Agent;
const USERS = Array.from({ length: 10 }, (_, i) => `user-${i}`);
const bodies = new Map<string, string>();

beforeAll(async () => {
  redis = await startRedis();
  salesforce = await startFakeOAuthServer({ profile: 'salesforce', clients: [fakeClient] });
  vault = await startSalesforceVault({ salesforce: { server: salesforce } }, redis.url);
  agent = new Agent({ keepAlive: true, maxSockets: 16, ca: vault.pki.ca, cert: vault.pki.gateway.cert, key: vault.pki.gateway.key });
  for (const user of USERS) {
    await seedSalesforceGrant(vault, salesforce, 'salesforce', user);
    const params = await exchangeParams(vault.ids, user, AGENT_A, { resource: 'salesforce', scope: 'salesforce:records.read' });
    bodies.set(user, new URLSearchParams(params).toString());
  }
});

afterAll(async () => {
  agent?.destroy();
  await vault?.close();
  await salesforce?.stop();
  await redis?.stop();
});

const exchange = (user: string): Promise<Response> =>
  call(`${vault.internalUrl}/exchange`, {
    method: 'POST',
    ca: vault.pki.ca,
    client: vault.pki.gateway,
    agent,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: bodies.get(user)!,
  });

const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: new TemporarilyUnavailable().description };

describe('Redis killed during load', () => {
  it('answers a token that is recorded and audited, or 503, and recovers after restart', async () => {
    // Warm every grant's upstream access token so the load itself never refreshes upstream.
    for (const user of USERS) expect((await exchange(user)).status).toBe(200);

    const responses: Response[] = [];
    let running = true;
    const loops = Array.from({ length: 16 }, async (_, worker) => {
      for (let i = worker; running; i++) responses.push(await exchange(USERS[i % USERS.length]!));
    });
    await new Promise((r) => setTimeout(r, 500));
    await redis.kill();
    const killedAt = responses.length;
    await new Promise((r) => setTimeout(r, 1_500));
    await redis.restart();
    await new Promise((r) => setTimeout(r, 500));
    running = false;
    await Promise.all(loops);

    const issued = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status !== 200);
    for (const res of refused) {
      expect(res.status).toBe(503);
      expect(res.json()).toStrictEqual(withRequestId(res, UNAVAILABLE));
      expect(res.headers['retry-after']).toBe('1');
    }
    expect(refused.length).toBeGreaterThan(0);
    expect(issued.length).toBeGreaterThan(killedAt / 2);

    // Every token that left the vault has its record and its audit record in the restarted Redis.
    await waitForRedis();
    const audited = new Set((await vault.auditRecords()).filter((r) => r.decision === 'allow').map((r) => r.jti));
    for (const res of issued) {
      const { jti } = decodeJwt(res.json<{ access_token: string }>().access_token);
      expect(await vault.runtime.stores.tokens.get(jti!)).not.toBeNull();
      expect(audited.has(jti)).toBe(true);
    }

    // Every grant still exchanges.
    for (const user of USERS) expect((await exchange(user)).status).toBe(200);
  });
});

async function waitForRedis(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await vault.runtime.stores.ping();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('redis did not come back');
}
