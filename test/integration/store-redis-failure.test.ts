/**
 * Redis going away must turn into StoreUnavailableError fast (docs/architecture.md#security-properties:
 * 503 in well under a second), and the same process must recover once Redis
 * is back. Also checks that key names never carry stored values.
 */
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedisStores } from '../../src/store/redis/index.js';
import { StoreUnavailableError } from '../../src/store/errors.js';
import type { Stores } from '../../src/store/stores.js';
import { grantFixture, tokenFixture } from '../contract/fixtures.js';
import { startRedis } from '../helpers/redis-server.js';
import type { RedisHandle } from '../helpers/redis-server.js';

const FAIL_FAST_MS = 1000;
const CANARY = 'CANARY7f3a';

const grant = grantFixture({
  id: 'g-failure-1',
  userId: `https://idp.example|${CANARY}-user`,
  upstreamSubject: `https://login.salesforce.com/id/${CANARY}-subject`,
  instanceUrl: `https://${CANARY}.my.salesforce.com`,
  scopes: [`${CANARY}-scope`],
  refreshToken: `v1.k1.${CANARY}-refresh-ciphertext`,
  consent: { 'spiffe://corp.example/agent/a': [`${CANARY}-op`] },
});
const token = tokenFixture({ jti: 'j-failure-1', grantId: grant.id, usesLeft: 3, certThumbprint: `${CANARY}-x5t` });

/** Every store method, each called with arguments that would succeed on a healthy Redis. */
function everyCall(stores: Stores): [string, () => Promise<unknown>][] {
  return [
    ['grants.create', () => stores.grants.create(grantFixture())],
    ['grants.get', () => stores.grants.get(grant.id)],
    ['grants.listByUser', () => stores.grants.listByUser(grant.userId)],
    ['grants.list', () => stores.grants.list({}, 10)],
    ['grants.commitRefresh', () => stores.grants.commitRefresh(grant.id, 1, 'v1.k1.next')],
    ['grants.setStatus', () => stores.grants.setStatus(grant.id, 'active')],
    ['grants.setConsent', () => stores.grants.setConsent(grant.id, 'agent', ['op'])],
    ['grants.delete', () => stores.grants.delete('g-other')],
    ['tokens.put', () => stores.tokens.put(tokenFixture({ grantId: grant.id }), 60_000)],
    ['tokens.get', () => stores.tokens.get(token.jti)],
    ['tokens.consume', () => stores.tokens.consume(token.jti)],
    ['tokens.cacheAccessToken', () => stores.tokens.cacheAccessToken(grant.id, { ciphertext: 'c', expiresAt: 1, grantVersion: 1 }, 1000)],
    ['tokens.getAccessToken', () => stores.tokens.getAccessToken(grant.id)],
    ['tokens.dropAccessToken', () => stores.tokens.dropAccessToken('g-other')],
    ['locks.acquire', () => stores.locks.acquire('refresh:g-failure-1', 1000)],
    ['locks.release', () => stores.locks.release('refresh:g-failure-1', 'owner')],
    ['killSwitches.engage', () => stores.killSwitches.engage({ scope: 'agent', target: 'a', reason: 'r', engagedAt: 1, engagedBy: 'x' })],
    ['killSwitches.release', () => stores.killSwitches.release('agent', 'a')],
    ['killSwitches.epoch', () => stores.killSwitches.epoch()],
    ['killSwitches.snapshot', () => stores.killSwitches.snapshot()],
    ['audit.head', () => stores.audit.head(0)],
    ['audit.heads', () => stores.audit.heads()],
    [
      'audit.append',
      () => stores.audit.append(0, { seq: 1, hash: 'h1' }, [{ chain: 0, seq: 2, prev: 'h1', hash: 'h2', time: '2026-12-01T00:00:00.000Z', body: '{}' }]),
    ],
    ['audit.range', () => stores.audit.range(0, 1, 10)],
    ['audit.trimArchived', () => stores.audit.trimArchived(0, 1, 0)],
    ['ping', () => stores.ping()],
  ];
}

/** Runs every call at once and returns the ones that did not fail fast with StoreUnavailableError. */
async function slowOrWrongFailures(stores: Stores): Promise<string[]> {
  const outcomes = await Promise.all(
    everyCall(stores).map(async ([name, call]) => {
      const started = performance.now();
      const error = await call().then(
        () => null,
        (err: unknown) => err,
      );
      const elapsed = performance.now() - started;
      const ok = error instanceof StoreUnavailableError && elapsed < FAIL_FAST_MS;
      return ok ? null : `${name}: ${error instanceof Error ? error.name : 'resolved'} after ${Math.round(elapsed)} ms`;
    }),
  );
  return outcomes.filter((o): o is string => o !== null);
}

async function eventually<T>(attempt: () => Promise<T>, withinMs: number): Promise<T> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (performance.now() > deadline) throw err;
      await sleep(50);
    }
  }
}

describe.skipIf(Boolean(process.env['REDIS_URL']))('redis stores when Redis fails', () => {
  let server: RedisHandle;
  let stores: Stores;
  let engagedEpoch: number;

  beforeAll(async () => {
    server = await startRedis();
    stores = await connectRedisStores({ url: server.url });
    await stores.grants.create(grant);
    await stores.tokens.put(token, 120_000);
    await stores.tokens.cacheAccessToken(grant.id, { ciphertext: `v1.k1.${CANARY}-access`, expiresAt: Date.now() + 60_000, grantVersion: 1 }, 60_000);
    await stores.locks.acquire('refresh:g-failure-1', 60_000);
    engagedEpoch = await stores.killSwitches.engage({
      scope: 'agent',
      target: 'spiffe://corp.example/agent/b',
      reason: `${CANARY}-reason`,
      engagedAt: 1,
      engagedBy: 'admin',
    });
    await stores.audit.append(0, null, [{ chain: 0, seq: 1, prev: '', hash: 'h1', time: '2026-12-01T00:00:00.000Z', body: JSON.stringify({ note: CANARY }) }]);
  });

  afterAll(async () => {
    await stores?.close();
    await server?.stop();
  });

  it('names keys by ids and tags only, never by stored values', async () => {
    const client = new Redis(server.url);
    try {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await client.scan(cursor, 'COUNT', 100);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
      const allowed = new RegExp(
        '^tv:(\\{g:g-failure-1\\}:(grant|at|tokens)|tok:j-failure-1|grants|\\{u:[A-Za-z0-9_-]{43}\\}:grants' +
          '|lock:refresh:g-failure-1|\\{ks\\}:(switches|epoch)|\\{audit:0\\}:(log|head))$',
      );
      expect(keys.filter((k) => !allowed.test(k))).toStrictEqual([]);
      expect(keys.filter((k) => k.includes(CANARY))).toStrictEqual([]);
      expect(keys).toHaveLength(10);
    } finally {
      await client.quit();
    }
  });

  it('fails every call fast while Redis is dead, and recovers its data after a restart', async () => {
    await server.kill();
    expect(await slowOrWrongFailures(stores)).toStrictEqual([]);
    await sleep(300);
    // Now the client is reconnecting rather than holding a dying socket.
    expect(await slowOrWrongFailures(stores)).toStrictEqual([]);

    await server.restart();
    const restored = await eventually(async () => (await stores.grants.get(grant.id)) ?? Promise.reject(new Error('absent')), 5000);
    expect(restored).toStrictEqual(grant);
    expect(await stores.tokens.consume(token.jti)).toStrictEqual(token);
    expect(await stores.audit.head(0)).toStrictEqual({ seq: 1, hash: 'h1' });
    expect((await stores.killSwitches.snapshot()).epoch).toBe(engagedEpoch);
    await expect(stores.ping()).resolves.toBeUndefined();
  });

  // Runs last: calls that time out still execute once Redis resumes, so this mutates state.
  it('fails every call fast with StoreUnavailableError while Redis hangs', async () => {
    server.pause();
    try {
      expect(await slowOrWrongFailures(stores)).toStrictEqual([]);
    } finally {
      server.resume();
    }
    await eventually(() => stores.ping(), 3000);
  });
});
