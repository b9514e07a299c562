/**
 * Webhook delivery end to end: a real vault on a private Redis sends kill-switch and grant events
 * to a real HTTPS receiver; every request is checked with the `standardwebhooks` verifier (written
 * outside this repository). Endpoints that answer 500, refuse connections or answer too late are
 * retried with the same webhook-id and never hold up the healthy one.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { adminCall } from '../../helpers/admin-client.js';
import { runAdminCli } from '../../helpers/admin-cli.js';
import { startExchangeVault, type ExchangeVault } from '../../helpers/exchange-fixture.js';
import { startRedis, type RedisHandle } from '../../helpers/redis-server.js';
import { withRequestId } from '../../helpers/request-id.js';
import { createTestPki, type TestPki } from '../../helpers/vault.js';
import { startVaultChild } from '../../helpers/vault-child.js';
import { startWebhookReceiver, writeWebhookSecret, type ReceivedWebhook, type WebhookReceiver } from '../../helpers/webhook-receiver.js';
import type { WebhookDelivery } from '../../../src/store/webhook-queue.js';

const AGENT = 'spiffe://corp.example/agent/webhooks';

let redis: RedisHandle;
let pki: TestPki;
let receiver: WebhookReceiver;
let vault: ExchangeVault;
const secrets: Record<string, string> = {};

/** A loopback port with nothing listening: connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  redis = await startRedis();
  pki = await createTestPki();
  receiver = await startWebhookReceiver(pki.dir);
  receiver.on('/flaky', { kind: 'fail-first', failures: 1 });
  receiver.on('/slow', { kind: 'slow', delayMs: 4_000 });
  const endpoint = async (name: string, url: string, events: string[]) => {
    const { file, secret } = await writeWebhookSecret(pki.dir, name);
    secrets[name] = secret;
    return { name, url, events, secretFile: file, caFile: `${pki.dir}/ca.crt`, allowPrivateNetwork: true };
  };
  const webhooks = {
    endpoints: [
      await endpoint('siem', `${receiver.url}/siem`, ['kill_switch.changed', 'grant.revoked', 'grant.needs_relink']),
      await endpoint('flaky', `${receiver.url}/flaky`, ['kill_switch.changed']),
      await endpoint('down', `https://127.0.0.1:${await closedPort()}/down`, ['kill_switch.changed']),
      await endpoint('slow', `${receiver.url}/slow`, ['kill_switch.changed']),
      await endpoint('pager', `${receiver.url}/pager`, ['grant.revoked']),
    ],
    timeoutMs: 2_000,
    maxAttempts: 3,
    baseDelayMs: 50,
    maxDelayMs: 100,
    intervalMs: 100,
    concurrency: 2,
  };
  vault = await startExchangeVault({ pki, redisUrl: redis.url, overrides: { webhooks } });
});

afterAll(async () => {
  await vault?.close();
  await receiver?.close();
  await redis?.stop();
});

const at = (path: string) => receiver.received.filter((r) => r.path === path);
/** The payload as the reference verifier accepts it (throws on a bad signature or stale timestamp). */
const verified = (name: string, r: ReceivedWebhook) => new Webhook(secrets[name]!).verify(r.body, r.headers);
const deliveries = async () => (await vault.runtime.stores.webhooks.list({}, 500)).items;
const deliveryTo = async (endpoint: string, event: string) => (await deliveries()).find((d) => d.endpoint === endpoint && d.event === event);

describe('webhook delivery', () => {
  it('sends a kill-switch change to every subscribed endpoint, signed; failing endpoints are retried and never delay the healthy one', async () => {
    const res = await adminCall(vault, '/admin/kill-switches', { method: 'POST', body: { scope: 'agent', target: AGENT, reason: 'webhook test' } });
    expect(res.status).toBe(200);
    const { epoch } = res.json<{ epoch: number }>();

    await expect.poll(async () => (await deliveryTo('siem', 'kill_switch.changed'))?.status, { timeout: 10_000 }).toBe('delivered');
    // The slow endpoint's first attempt (2 s deadline, 4 s answer) was still running when the healthy one was done.
    const slowMeanwhile = await deliveryTo('slow', 'kill_switch.changed');
    expect({ status: slowMeanwhile?.status, attempts: slowMeanwhile?.attempts, lastAttemptAt: slowMeanwhile?.lastAttemptAt }).toStrictEqual({
      status: 'pending',
      attempts: 1,
      lastAttemptAt: undefined,
    });

    const payload = { type: 'kill_switch.changed', timestamp: expect.any(String), data: { scope: 'agent', target: AGENT, engaged: true, epoch } };
    const [siem] = at('/siem');
    expect(verified('siem', siem!)).toStrictEqual(payload);
    expect(siem!.headers['content-type']).toBe('application/json');

    // 500 first, then 2xx: the same message (webhook-id and body) twice, each attempt signed on its own.
    await expect.poll(async () => (await deliveryTo('flaky', 'kill_switch.changed'))?.status, { timeout: 10_000 }).toBe('delivered');
    const flaky = at('/flaky');
    expect(flaky.map((r) => verified('flaky', r))).toStrictEqual([payload, payload]);
    expect(new Set(flaky.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(flaky[0]!.headers['webhook-id']).toBe(siem!.headers['webhook-id']);
    const flakyDelivery = (await deliveryTo('flaky', 'kill_switch.changed'))!;
    expect({ attempts: flakyDelivery.attempts, lastError: flakyDelivery.lastError }).toStrictEqual({ attempts: 2, lastError: 'http_500' });

    // Connection refused on every attempt: dead after maxAttempts, listed by the admin API.
    await expect.poll(async () => (await deliveryTo('down', 'kill_switch.changed'))?.status, { timeout: 10_000 }).toBe('dead');
    const down = (await deliveryTo('down', 'kill_switch.changed'))!;
    const listed = await adminCall(vault, '/admin/webhooks/deliveries?status=dead');
    expect({ status: listed.status, body: listed.json() }).toStrictEqual({
      status: 200,
      body: {
        items: [
          {
            id: down.id,
            messageId: siem!.headers['webhook-id'],
            endpoint: 'down',
            event: 'kill_switch.changed',
            status: 'dead',
            attempts: 3,
            createdAt: down.createdAt,
            lastAttemptAt: down.lastAttemptAt,
            finishedAt: down.lastAttemptAt,
            lastError: 'unreachable',
            payload: siem!.body,
          },
        ],
      },
    });

    // Too slow on every attempt: timed out, retried, then dead.
    await expect.poll(async () => (await deliveryTo('slow', 'kill_switch.changed'))?.status, { timeout: 20_000, interval: 200 }).toBe('dead');
    expect((await deliveryTo('slow', 'kill_switch.changed'))?.lastError).toBe('timeout');
    expect(at('/slow').map((r) => r.headers['webhook-id'])).toStrictEqual(Array(3).fill(siem!.headers['webhook-id']));
  }, 40_000);

  it('redelivers a dead message with the same webhook-id; an unknown id is 404', async () => {
    const dead = (await deliveryTo('down', 'kill_switch.changed'))!;
    const slow = (await deliveryTo('slow', 'kill_switch.changed'))!;
    const res = await adminCall(vault, `/admin/webhooks/deliveries/${dead.id}/redeliver`, { method: 'POST' });
    expect({ status: res.status, body: res.json() }).toStrictEqual({ status: 200, body: { id: dead.id, status: 'pending' } });
    const again = await vault.runtime.stores.webhooks.get(dead.id);
    expect(again).toMatchObject({ status: 'pending', messageId: dead.messageId });
    await expect.poll(async () => (await vault.runtime.stores.webhooks.get(dead.id))?.status, { timeout: 10_000 }).toBe('dead');

    // The same from the CLI: the dead delivery listed, then sent again.
    const listed = await runAdminCli(vault, ['webhooks', '--status', 'dead', '--json']);
    expect({ code: listed.code, ids: JSON.parse(listed.stdout).items.map((d: { id: string }) => d.id), stderr: listed.stderr }).toStrictEqual({
      code: 0,
      ids: [slow.id, dead.id],
      stderr: '',
    });
    const table = await runAdminCli(vault, ['webhooks', '--status', 'dead']);
    expect(table.stdout.split('\n')[0]).toBe(
      'ID'.padEnd(dead.id.length) + '  ENDPOINT  EVENT                STATUS  ATTEMPTS  LAST ERROR   CREATED                   NEXT ATTEMPT',
    );
    expect(await runAdminCli(vault, ['webhooks', 'redeliver', dead.id])).toStrictEqual({
      code: 0,
      stdout: `delivery ${dead.id} is pending again (same webhook-id)\n`,
      stderr: '',
    });

    const unknown = await adminCall(vault, '/admin/webhooks/deliveries/msg_nothing.siem/redeliver', { method: 'POST' });
    expect({ status: unknown.status, body: unknown.json() }).toStrictEqual({
      status: 404,
      body: withRequestId(unknown, { error: 'not_found', error_description: 'The requested resource does not exist.' }),
    });
  }, 20_000);

  it('tells only the endpoints subscribed to grant.revoked, with ids and a fixed reason, never a token or a secret', async () => {
    const refreshToken = 'canary-refresh-token-7d1e0b9a';
    const accessToken = 'canary-access-token-52c8f4e1';
    const grant = await vault.seedGrant('alice', {}, { refreshToken, accessToken: { value: accessToken, expiresInMs: 3_600_000 } });
    const typed = 'typed-by-an-admin-3f9a';
    const res = await adminCall(vault, `/admin/grants/${grant.id}/revoke`, { method: 'POST', body: { reason: typed } });
    expect(res.status).toBe(200);

    const revokedTo = async (endpoint: string) => (await deliveries()).find((d) => d.endpoint === endpoint && d.event === 'grant.revoked')?.status;
    await expect.poll(() => revokedTo('siem'), { timeout: 10_000 }).toBe('delivered');
    await expect.poll(() => revokedTo('pager'), { timeout: 10_000 }).toBe('delivered');
    const payload = {
      type: 'grant.revoked',
      timestamp: expect.any(String),
      data: { grant: grant.id, user: grant.userId, provider: 'crm', reason: 'revoked_by_admin' },
    };
    expect(verified('pager', at('/pager')[0]!)).toStrictEqual(payload);
    expect(
      verified(
        'siem',
        at('/siem').find((r) => r.body.includes('grant.revoked'))!,
      ),
    ).toStrictEqual(payload);
    expect(
      (await deliveries())
        .filter((d) => d.event === 'grant.revoked')
        .map((d) => d.endpoint)
        .sort(),
    ).toStrictEqual(['pager', 'siem']);
    // What an admin types is audited, never sent out.
    expect(JSON.stringify(receiver.received)).not.toContain(typed);

    // Canary: neither the grant's tokens nor any webhook secret reach a receiver, the admin API, the logs or the metrics.
    const listed = await adminCall(vault, '/admin/webhooks/deliveries?limit=500');
    const haystacks = {
      received: JSON.stringify(receiver.received),
      admin: listed.text,
      logs: vault.logs.text(),
      queue: JSON.stringify(await deliveries()),
      metrics: await (await fetch(`${vault.metricsUrl}/metrics`)).text(),
    };
    expect(haystacks.metrics).toContain('tv_webhook_deliveries_total{event="grant.revoked",endpoint="pager",outcome="delivered"} 1');
    for (const [where, text] of Object.entries(haystacks)) {
      for (const secret of [refreshToken, accessToken, ...Object.values(secrets), ...Object.values(secrets).map((s) => s.slice('whsec_'.length))]) {
        expect(text.includes(secret), `${where} contains a secret`).toBe(false);
      }
    }
  }, 20_000);
});

describe('webhook delivery from two vault processes on one Redis', () => {
  it('delivers each event once to the healthy endpoint, whichever process claims it', async () => {
    const child = await startVaultChild(vault.rawConfig, pki.dir, 'webhook-replica');
    const second = { internalUrl: child.internalUrl, pki };
    try {
      const before = new Set(at('/siem').map((r) => r.headers['webhook-id']));
      const targets = Array.from({ length: 10 }, (_, i) => `${AGENT}/${i}`);
      for (const [i, target] of targets.entries()) {
        const replica = i % 2 === 0 ? vault : second;
        expect((await adminCall(replica, '/admin/kill-switches', { method: 'POST', body: { scope: 'agent', target, reason: 'replicas' } })).status).toBe(200);
      }
      const fresh = () => at('/siem').filter((r) => !before.has(r.headers['webhook-id']));
      await expect.poll(() => fresh().length, { timeout: 15_000 }).toBe(targets.length);
      const ids = fresh().map((r) => r.headers['webhook-id']);
      expect(new Set(ids).size).toBe(targets.length);
      expect(
        fresh()
          .map((r) => (verified('siem', r) as { data: { target: string } }).data.target)
          .sort(),
      ).toStrictEqual([...targets].sort());
      // The receiver has them; each outcome is recorded once its answer is read.
      const siem = async () => (await deliveries()).filter((d: WebhookDelivery) => d.endpoint === 'siem' && ids.includes(d.messageId));
      await expect
        .poll(async () => (await siem()).map((d) => [d.status, d.attempts]), { timeout: 10_000 })
        .toStrictEqual(Array(targets.length).fill(['delivered', 1]));
    } finally {
      await child.stop();
    }
  }, 150_000);
});
