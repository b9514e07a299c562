/**
 * Fail fast, recover fast, absorb bursts (generous bounds; the exact figures are in `npm run bench`):
 * a stalled Redis fails each exchange with 503 + Retry-After within the command timeout plus a
 * small margin; every replica serves again soon after Redis answers again; a burst of 200
 * concurrent exchanges on new mTLS connections against a healthy Redis gets no 503.
 */
import { Redis } from 'ioredis';
import { Agent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemporarilyUnavailable } from '../../../src/errors.js';
import { AGENT_A, exchangeParams, startExchangeVault, type ExchangeVault } from '../../helpers/exchange-fixture.js';
import { call, type Response } from '../../helpers/https-client.js';
import { timeRecovery } from '../../helpers/redis-recovery.js';
import { startRedis, type RedisHandle } from '../../helpers/redis-server.js';
import { withRequestId } from '../../helpers/request-id.js';
import { startVaultChild, type VaultChild } from '../../helpers/vault-child.js';

/**
 * Generous: the configured command timeout is 500 ms; before the store budget a stall took 1.5–2.5 s
 * per request (median), so the median must stay under the first bound and every answer under the second.
 */
const STALL_MEDIAN_BOUND_MS = 1_000;
const STALL_ANSWER_BOUND_MS = 2_000;
const RECOVERY_BOUND_MS = 1_500;
const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: new TemporarilyUnavailable().description };

let redis: RedisHandle;
let vault: ExchangeVault;
let replica: VaultChild;
let body: string;

beforeAll(async () => {
  redis = await startRedis();
  vault = await startExchangeVault({ redisUrl: redis.url });
  replica = await startVaultChild(vault.rawConfig, vault.pki.dir, 'vault-replica');
  await vault.seedGrant('alice');
  body = new URLSearchParams(await exchangeParams(vault.ids, 'alice', AGENT_A)).toString();
});

afterAll(async () => {
  await replica?.stop();
  await vault?.close();
  await redis?.stop();
});

function exchange(url: string, agent?: Agent): Promise<Response> {
  return call(`${url}/exchange`, {
    method: 'POST',
    ca: vault.pki.ca,
    client: vault.pki.gateway,
    ...(agent ? { agent } : {}),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
}

function expectUnavailable(res: Response): void {
  expect({ status: res.status, retryAfter: res.headers['retry-after'] }).toStrictEqual({ status: 503, retryAfter: '1' });
  expect(res.json()).toStrictEqual(withRequestId(res, UNAVAILABLE));
}

const keepAlive = () => new Agent({ keepAlive: true, maxSockets: 8, ca: vault.pki.ca, cert: vault.pki.gateway.cert, key: vault.pki.gateway.key });

describe('a stalled Redis', () => {
  it('fails each exchange with 503 within the command timeout plus a margin (CLIENT PAUSE 3000)', async () => {
    const agent = keepAlive();
    try {
      expect((await exchange(vault.internalUrl, agent)).status).toBe(200);
      const admin = new Redis(redis.url);
      await admin.client('PAUSE', 3_000, 'ALL');
      const started = performance.now();
      const timed: { ms: number; res: Response }[] = [];
      // Sequential and concurrent requests during the stall.
      while (performance.now() - started < 2_000) {
        const batch = await Promise.all(
          Array.from({ length: 4 }, async () => {
            const t = performance.now();
            const res = await exchange(vault.internalUrl, agent);
            return { ms: performance.now() - t, res };
          }),
        );
        timed.push(...batch);
      }
      admin.disconnect();
      for (const { res } of timed) expectUnavailable(res);
      const sorted = timed.map(({ ms }) => Math.round(ms)).sort((a, b) => a - b);
      expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(STALL_MEDIAN_BOUND_MS);
      expect(sorted.filter((ms) => ms > STALL_ANSWER_BOUND_MS)).toStrictEqual([]);
      await sleep(1_500);
    } finally {
      agent.destroy();
    }
  });
});

describe('Redis answering again', () => {
  for (const outage of ['paused', 'killed'] as const) {
    it(`every replica serves again soon after Redis answers (${outage} for 3 s)`, async () => {
      const urls = [vault.internalUrl, replica.internalUrl];
      const agents = urls.map(() => keepAlive());
      try {
        for (const [i, url] of urls.entries()) expect((await exchange(url, agents[i])).status).toBe(200);
        const recovered = await timeRecovery({
          redis,
          outage,
          callers: urls.map((url, i) => () => exchange(url, agents[i])),
          onAnswer: (res) => expectUnavailable(res),
          pauseBetweenMs: 20,
        });
        const recoveredMs = recovered.map(Math.round);
        expect(recoveredMs.filter((ms) => !(ms <= RECOVERY_BOUND_MS))).toStrictEqual([]);
      } finally {
        for (const agent of agents) agent.destroy();
      }
    });
  }
});

describe('a burst on a healthy Redis', () => {
  it('200 concurrent exchanges, each on a new mTLS connection: no 503', async () => {
    const agent = new Agent({ keepAlive: false, maxSockets: 200, ca: vault.pki.ca, cert: vault.pki.gateway.cert, key: vault.pki.gateway.key });
    try {
      const answers = await Promise.all(Array.from({ length: 200 }, () => exchange(vault.internalUrl, agent)));
      expect(answers.map((r) => r.status)).toStrictEqual(Array(200).fill(200));
    } finally {
      agent.destroy();
    }
  });
});
