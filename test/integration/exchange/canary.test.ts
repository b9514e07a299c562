/**
 * Canary scan: drive exchanges through success, rotation, denial, upstream
 * failure and invalid_grant, then look for every secret value the vault has
 * handled in its logs, error bodies, audit records, every Redis value and its
 * `/metrics` text.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOAuthServer, type FakeOAuthServer } from '../../../src/dev/fake-oauth-server.js';
import { openAccessToken, openRefreshToken } from '../../../src/grants/secrets.js';
import { AGENT_A, ACCESS_TOKEN_TYPE, exchangeParams, type ExchangeVault } from '../../helpers/exchange-fixture.js';
import { FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, fakeClient } from '../../helpers/fake-providers/catalog.js';
import { scrapeMetrics } from '../../helpers/metrics-scrape.js';
import { startRedis, type RedisHandle } from '../../helpers/redis-server.js';
import { SF_SCOPE, startSalesforceVault } from '../../helpers/salesforce-vault.js';
import { startWebhookReceiver, writeWebhookSecret, type WebhookReceiver } from '../../helpers/webhook-receiver.js';

let redis: RedisHandle;
let salesforce: FakeOAuthServer;
let vault: ExchangeVault;
let receiver: WebhookReceiver | undefined;
let webhookSecret = '';

beforeAll(async () => {
  redis = await startRedis();
  salesforce = await startFakeOAuthServer({ profile: 'salesforce', clients: [fakeClient] });
  vault = await startSalesforceVault(
    {
      salesforce: {
        server: salesforce,
        extra: {
          operations: {
            'records.read': { description: 'Read records', methods: ['GET'], paths: ['/services/data/**'] },
            'token.raw': { description: 'Raw token', methods: ['GET'], paths: ['/services/data/**'], releaseUpstreamToken: true },
          },
        },
      },
    },
    redis.url,
    async (dir) => {
      receiver = await startWebhookReceiver(dir);
      const { file, secret } = await writeWebhookSecret(dir, 'siem');
      webhookSecret = secret;
      const endpoints = [
        { name: 'siem', url: `${receiver.url}/siem`, events: ['grant.needs_relink'], secretFile: file, caFile: `${dir}/ca.crt`, allowPrivateNetwork: true },
      ];
      return { webhooks: { endpoints, intervalMs: 50 } };
    },
  );
});

afterAll(async () => {
  await vault?.close();
  await receiver?.close();
  await salesforce?.stop();
  await redis?.stop();
});

/** Every value stored under the vault's prefix, whatever its type. */
async function redisValues(url: string): Promise<string> {
  const client = new Redis(url);
  const out: string[] = [];
  try {
    for (const key of await client.keys('*')) {
      const type = await client.type(key);
      if (type === 'string') out.push((await client.get(key)) ?? '');
      else if (type === 'hash') out.push(JSON.stringify(await client.hgetall(key)));
      else if (type === 'set') out.push(JSON.stringify(await client.smembers(key)));
      else if (type === 'zset') out.push(JSON.stringify(await client.zrange(key, '0', '-1')));
      else if (type === 'list') out.push(JSON.stringify(await client.lrange(key, 0, -1)));
      else if (type === 'stream') out.push(JSON.stringify(await client.xrange(key, '-', '+')));
      out.push(key);
    }
  } finally {
    client.disconnect();
  }
  return out.join('\n');
}

describe('canary scan', () => {
  it('no refresh token, access token or client secret in logs, error bodies, audit records, Redis, metrics or webhooks', async () => {
    const secrets = new Set<string>([FAKE_CLIENT_SECRET, webhookSecret, webhookSecret.slice('whsec_'.length)]);
    const errorBodies: string[] = [];
    const read = (user: string, extra: Record<string, string> = {}) =>
      exchangeParams(vault.ids, user, AGENT_A, { resource: 'salesforce', scope: 'salesforce:records.read', ...extra });

    // Success with a rotating refresh, the raw upstream token released, and an operation token.
    const seeded = await salesforce.issueRefreshTokenFor({ accountId: 'alice', clientId: FAKE_CLIENT_ID, scope: SF_SCOPE });
    secrets.add(seeded.refreshToken).add(seeded.accessToken);
    const grant = await vault.seedGrant(
      'alice',
      { provider: 'salesforce', instanceUrl: salesforce.origin, consent: { [AGENT_A]: ['salesforce:records.read', 'salesforce:token.raw'] } },
      { refreshToken: seeded.refreshToken, accessToken: null },
    );
    const op = await vault.exchange(await read('alice'));
    expect(op.status).toBe(200);
    secrets.add(op.json<{ access_token: string }>().access_token);
    const raw = await vault.exchange(await read('alice', { scope: 'salesforce:token.raw', requested_token_type: ACCESS_TOKEN_TYPE }));
    expect(raw.status).toBe(200);
    // Salesforce: no expires_in upstream, so the truthful lifetime comes from introspection (7200 s here).
    expect(raw.json()).toStrictEqual({
      access_token: expect.any(String),
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: expect.any(Number),
      scope: 'salesforce:token.raw',
      instance_url: salesforce.origin,
    });
    expect(raw.json<{ expires_in: number }>().expires_in).toBeGreaterThan(7_100);
    expect(raw.json<{ expires_in: number }>().expires_in).toBeLessThanOrEqual(7_200);
    secrets.add(raw.json<{ access_token: string }>().access_token);
    const stored = (await vault.runtime.stores.grants.get(grant.id))!;
    secrets.add(openRefreshToken(vault.runtime.envelope, stored));
    const cached = (await vault.runtime.stores.tokens.getAccessToken(grant.id))!;
    secrets.add(openAccessToken(vault.runtime.envelope, stored, cached.ciphertext));

    // Denials: an unacceptable token carrying a secret in its claims, a bad grant type.
    const hostile = await read('alice', { subject_token: await vault.ids.agentToken(seeded.refreshToken, { secret: FAKE_CLIENT_SECRET }) });
    const denied = await vault.exchange(hostile);
    errorBodies.push(denied.text);
    errorBodies.push((await vault.exchange({ grant_type: 'refresh_token', refresh_token: seeded.refreshToken })).text);

    // Upstream down (503), then invalid_grant (upstream grant revoked → consent_required).
    await vault.runtime.stores.tokens.dropAccessToken(grant.id);
    salesforce.setTokenEndpointFailing(true);
    const down = await vault.exchange(await read('alice'));
    salesforce.setTokenEndpointFailing(false);
    expect(down.status).toBe(503);
    errorBodies.push(down.text);
    await vault.runtime.upstream.revoke('salesforce', openRefreshToken(vault.runtime.envelope, stored), 'refresh_token');
    const revoked = await vault.exchange(await read('alice'));
    expect(revoked.json()).toMatchObject({ error: 'consent_required' });
    errorBodies.push(revoked.text);

    // The parked grant was reported to the webhook endpoint, by ids and a fixed reason.
    await expect.poll(() => receiver!.received.length, { timeout: 10_000 }).toBe(1);
    expect(JSON.parse(receiver!.received[0]!.body)).toStrictEqual({
      type: 'grant.needs_relink',
      timestamp: expect.any(String),
      data: { grant: grant.id, user: grant.userId, provider: 'salesforce', reason: 'invalid_grant' },
    });

    const haystacks = {
      logs: vault.logs.text(),
      errorBodies: errorBodies.join('\n'),
      audit: JSON.stringify(await vault.auditRecords()),
      redis: await redisValues(redis.url),
      metrics: (await scrapeMetrics(vault.metricsUrl)).text,
      webhooks: JSON.stringify(receiver!.received),
    };
    expect(haystacks.logs.length).toBeGreaterThan(0);
    expect(haystacks.metrics).toContain('tv_exchanges_total{outcome="issued"');
    expect(haystacks.audit).toContain('token.exchange');
    for (const [where, text] of Object.entries(haystacks)) {
      for (const secret of secrets) expect(text.includes(secret), `${where} contains a secret`).toBe(false);
    }
  });
});
