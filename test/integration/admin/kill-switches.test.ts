import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisKillSwitchEvents } from '../../../src/store/redis/kill-switch-events.js';
import { adminCall } from '../../helpers/admin-client.js';
import { call } from '../../helpers/https-client.js';
import { startRedis, type RedisHandle } from '../../helpers/redis-server.js';
import { createTestPki, startVault, type TestPki, type TestVault } from '../../helpers/vault.js';
import { withRequestId } from '../../helpers/request-id.js';
import { trailEntries } from '../../helpers/audit-trail.js';

const ADMIN = 'spiffe://dev.local/admin';
const AGENT = 'spiffe://corp.example/agent/a';

let redis: RedisHandle;
let pki: TestPki;
let a: TestVault;
let b: TestVault;

beforeAll(async () => {
  redis = await startRedis();
  pki = await createTestPki();
  a = await startVault({ pki, redisUrl: redis.url });
  b = await startVault({ pki, redisUrl: redis.url });
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await redis?.stop();
});

const auditBodies = async (vault: TestVault) =>
  (await trailEntries(vault.runtime.stores.audit)).map((e) => {
    // Chain and seq are where the record sits (two replicas write their own chains: src/audit/chain-owners.ts).
    const { time, requestId, chain, seq, ...rest } = JSON.parse(e.body) as Record<string, unknown>;
    expect(chain).toBe(e.chain);
    expect(seq).toBe(e.seq);
    expect(typeof time).toBe('string');
    expect(typeof requestId).toBe('string');
    return rest;
  });

/** How long a replica may take to learn of a change made on another (generous: a loaded machine). */
const PROPAGATION_BOUND_MS = 10_000;

const readyz = async (vault: TestVault) => {
  const res = await call(`${vault.publicUrl}/readyz`, { ca: pki.ca });
  return { status: res.status, body: res.json() };
};

describe('kill switches API', () => {
  it('engages durably (across a Redis restart), lists, releases, and audits each change', async () => {
    const res = await adminCall(a, '/admin/kill-switches', {
      method: 'POST',
      body: { scope: 'agent', target: AGENT, reason: 'incident-42' },
      headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    });
    expect(res.status).toBe(200);
    const body = res.json<{ epoch: number; switch: { engagedAt: number } }>();
    const sw = { scope: 'agent', target: AGENT, reason: 'incident-42', engagedAt: body.switch.engagedAt, engagedBy: ADMIN };
    const engagedEpoch = body.epoch;
    expect(engagedEpoch).toBeGreaterThan(0);
    expect(body).toStrictEqual({ epoch: engagedEpoch, switch: sw });
    expect(await b.runtime.stores.killSwitches.snapshot()).toStrictEqual({ epoch: engagedEpoch, switches: [sw] });

    await redis.restart();
    // Both replicas reconnect on their own schedule; this test is about durability, so wait for each.
    for (const vault of [a, b]) await expect.poll(async () => (await adminCall(vault, '/admin/kill-switches')).status, { timeout: 5_000 }).toBe(200);
    expect((await adminCall(b, '/admin/kill-switches')).json()).toStrictEqual({ epoch: engagedEpoch, switches: [sw] });

    const released = await adminCall(b, `/admin/kill-switches/agent/${encodeURIComponent(AGENT)}`, { method: 'DELETE' });
    const releasedEpoch = released.json<{ epoch: number }>().epoch;
    expect(releasedEpoch).toBeGreaterThan(engagedEpoch);
    expect({ status: released.status, body: released.json() }).toStrictEqual({ status: 200, body: { epoch: releasedEpoch, released: true } });
    const again = await adminCall(b, `/admin/kill-switches/agent/${encodeURIComponent(AGENT)}`, { method: 'DELETE' });
    expect(again.json()).toStrictEqual({ epoch: releasedEpoch, released: false });
    expect((await adminCall(a, '/admin/kill-switches')).json()).toStrictEqual({ epoch: releasedEpoch, switches: [] });

    expect(await auditBodies(a)).toStrictEqual([
      {
        action: 'killswitch.engage',
        decision: 'allow',
        reason: 'incident-42',
        actor: ADMIN,
        agent: AGENT,
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        details: { scope: 'agent', target: AGENT, epoch: engagedEpoch },
      },
      {
        action: 'killswitch.release',
        decision: 'allow',
        reason: 'released',
        actor: ADMIN,
        agent: AGENT,
        details: { scope: 'agent', target: AGENT, epoch: releasedEpoch },
      },
      {
        action: 'killswitch.release',
        decision: 'allow',
        reason: 'not_engaged',
        actor: ADMIN,
        agent: AGENT,
        details: { scope: 'agent', target: AGENT, epoch: releasedEpoch },
      },
    ]);
  }, 20_000);

  it('refuses malformed switches and changes nothing', async () => {
    const epoch = await a.runtime.stores.killSwitches.epoch();
    const invalid = {
      error: 'invalid_request',
      error_description: 'The request is missing a required parameter, includes an invalid parameter value, or is otherwise malformed.',
    };
    for (const body of [
      { scope: 'planet', target: 'x', reason: 'r' },
      { scope: 'agent', target: 'x', reason: '' },
      { scope: 'agent', target: 'has space', reason: 'r' },
      { scope: 'agent', target: 'x' },
      { scope: 'global', target: 'x', reason: 'r' },
      { scope: 'agent', target: '*', reason: 'r' },
      { scope: 'agent', target: 'x', reason: 'r', extra: 1 },
    ]) {
      const res = await adminCall(a, '/admin/kill-switches', { method: 'POST', body });
      expect({ status: res.status, body: res.json() }).toStrictEqual({ status: 400, body: withRequestId(res, invalid) });
    }
    for (const path of ['planet/x', 'agent/has%20space', 'global/x', 'agent/*']) {
      const res = await adminCall(a, `/admin/kill-switches/${path}`, { method: 'DELETE' });
      expect({ path, status: res.status, body: res.json() }).toStrictEqual({ path, status: 400, body: withRequestId(res, invalid) });
    }
    expect(await a.runtime.stores.killSwitches.epoch()).toBe(epoch);
  });

  it('seals the keys of every replica on the global switch, even without pub/sub, and unseals on release', async () => {
    expect(await readyz(a)).toStrictEqual({ status: 200, body: { status: 'ok', checks: { store: 'ok', keys: 'ok' } } });
    // Replica b loses its pub/sub connection: only the epoch poll can tell it.
    const events = b.runtime.stores.killSwitchEvents as RedisKillSwitchEvents;
    expect(events.subscriber).toBeDefined();
    events.subscriber!.disconnect();
    const res = await adminCall(a, '/admin/kill-switches', { method: 'POST', body: { scope: 'global', target: '*', reason: 'breach' } });
    expect(res.status).toBe(200);
    // Sealed before the answer on the replica that took the request.
    expect(a.runtime.keys.keyring.isSealed()).toBe(true);
    const sealed = { status: 503, body: { status: 'unavailable', checks: { store: 'ok', keys: 'fail' } } };
    expect(await readyz(a)).toStrictEqual(sealed);
    // The other replica learns of it from its epoch poll (every 250 ms, src/kill-switches/cache.ts);
    // the bound is generous for a machine loaded by the whole suite, where Redis can stall for seconds.
    await expect.poll(() => readyz(b), { timeout: PROPAGATION_BOUND_MS }).toStrictEqual(sealed);
    expect(() => a.runtime.envelope.seal('x', { kind: 'grant.refresh_token', grantId: 'g', userId: 'u', provider: 'p' })).toThrow('keyring is sealed');

    const released = await adminCall(b, '/admin/kill-switches/global/*', { method: 'DELETE' });
    expect(released.status).toBe(200);
    expect(b.runtime.keys.keyring.isSealed()).toBe(false);
    await expect
      .poll(() => readyz(a), { timeout: PROPAGATION_BOUND_MS })
      .toStrictEqual({ status: 200, body: { status: 'ok', checks: { store: 'ok', keys: 'ok' } } });
    // The reloaded keys open what the old ones sealed: same files, same keys.
    const aad = { kind: 'grant.refresh_token' as const, grantId: 'g', userId: 'u', provider: 'p' };
    expect(b.runtime.envelope.open(a.runtime.envelope.seal('secret', aad), aad)).toBe('secret');
  });
});
