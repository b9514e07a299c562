/**
 * Durability across failover: with `store.redis.minReplicasAck`, the audit record of a release is
 * held by a replica (`WAIT`) before the token leaves. A replica that stops acknowledging fails the
 * exchange closed (503 + Retry-After), fast; once it answers again, exchanges are issued again.
 */
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemporarilyUnavailable } from '../../../src/errors.js';
import { AUDIT_CHAINS_DEFAULT } from '../../../src/store/audit-store.js';
import { RedisKeys } from '../../../src/store/redis/keys.js';
import { AGENT_A, exchangeParams, startExchangeVault, type ExchangeVault } from '../../helpers/exchange-fixture.js';
import { startRedis, type RedisHandle } from '../../helpers/redis-server.js';
import { withRequestId } from '../../helpers/request-id.js';

const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: new TemporarilyUnavailable().description };
/** Generous: WAIT gives up after 200 ms. */
const REFUSAL_BOUND_MS = 1_500;

let primary: RedisHandle;
let replica: RedisHandle;
let vault: ExchangeVault;
let params: Record<string, string>;

async function linkUp(url: string): Promise<void> {
  const client = new Redis(url);
  try {
    for (let i = 0; i < 200; i++) {
      if ((await client.info('replication')).includes('master_link_status:up')) return;
      await sleep(50);
    }
    throw new Error('replication link did not come up');
  } finally {
    client.disconnect();
  }
}

/** Every audit chain's head (seq and hash, '' where a chain is empty) as one server holds it. */
async function headsOn(url: string): Promise<string[][]> {
  const client = new Redis(url);
  const keys = new RedisKeys('tv:');
  try {
    return await Promise.all(
      Array.from({ length: AUDIT_CHAINS_DEFAULT }, async (_, chain) => (await client.hmget(keys.auditHead(chain), 'seq', 'hash')).map((v) => v ?? '')),
    );
  } finally {
    client.disconnect();
  }
}

beforeAll(async () => {
  primary = await startRedis();
  replica = await startRedis(['--replicaof', '127.0.0.1', String(primary.port)]);
  await linkUp(replica.url);
  vault = await startExchangeVault({
    redisUrl: primary.url,
    overrides: { store: { kind: 'redis', redis: { url: primary.url, minReplicasAck: 1, replicaAckTimeoutMs: 200 } } },
  });
  await vault.seedGrant('alice');
  params = await exchangeParams(vault.ids, 'alice', AGENT_A);
});

afterAll(async () => {
  await vault?.close();
  await replica?.stop();
  await primary?.stop();
});

describe('minReplicasAck', () => {
  it('issues once the replica holds the audit record of the release', async () => {
    const res = await vault.exchange(params);
    expect(res.status).toBe(200);
    const heads = await headsOn(primary.url);
    // The release's record is on the primary (a chain with a head), and the replica has that head.
    expect(heads.filter(([seq]) => seq !== '')).not.toHaveLength(0);
    expect(await headsOn(replica.url)).toStrictEqual(heads);
  });

  it('fails closed, fast, while no replica acknowledges; issues again once one does', async () => {
    replica.pause();
    try {
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        const res = await vault.exchange(params);
        expect(performance.now() - started).toBeLessThan(REFUSAL_BOUND_MS);
        expect({ status: res.status, retryAfter: res.headers['retry-after'] }).toStrictEqual({ status: 503, retryAfter: '1' });
        expect(res.json()).toStrictEqual(withRequestId(res, UNAVAILABLE));
      }
    } finally {
      replica.resume();
    }
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await vault.exchange(params)).status;
      if (status !== 200) await sleep(100);
    }
    expect(status).toBe(200);
  });
});
