/**
 * `kill -9` of the Redis master that holds the grant and the audit chain, under continuous
 * exchange load, on a Cluster (3 masters, 1 replica each) and on a Sentinel set (master, replica,
 * 3 sentinels). Counted: grants lost (0), tokens issued without their audit record (0), exchanges
 * answered other than 200 or 503 (0: fail closed), and the time from the kill until exchanges
 * succeed again (printed; bounded generously by the failure detection the harness configures).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemporarilyUnavailable } from '../../../src/errors.js';
import { AUDIT_CHAINS_DEFAULT, auditChainOfGrant } from '../../../src/store/audit-store.js';
import type { Grant } from '../../../src/store/grant-store.js';
import { RedisKeys } from '../../../src/store/redis/keys.js';
import { AGENT_A, exchangeParams, JWT_TYPE } from '../../helpers/exchange-fixture.js';
import { startExchangeLoad, type Shot } from '../../helpers/exchange-load.js';
import { auditRecords } from '../../helpers/flaky-audit.js';
import { startForwardWorld, type ForwardWorld } from '../../helpers/forward-fixture.js';
import { startRedisCluster, type RedisClusterHandle } from '../../helpers/redis-cluster.js';
import { startRedisSentinel, type RedisSentinelHandle } from '../../helpers/redis-sentinel.js';

/** Failure detection of the harness (cluster-node-timeout, down-after-milliseconds). */
const DETECT_MS = 2_000;
/** Generous: detection, election, the client's slot refresh or sentinel query, on a loaded 2-vCPU box. */
const RECOVERY_BOUND_MS = 30_000;
/**
 * A case's own bound: seeding, up to 30 s for the load's first successes, and RECOVERY_BOUND_MS
 * after the kill. The default test timeout (30 s) is shorter than those waits together, so a case
 * slowed by a loaded machine failed on the timeout before any of its own bounds was reached.
 */
const TEST_BOUND_MS = 120_000;
const GRANTS = 20;
/** The vault's keys (default prefix). */
const KEYS = new RedisKeys('tv:');
const unavailable = { error: 'temporarily_unavailable', error_description: new TemporarilyUnavailable('').description };

interface Outcome {
  shots: Shot[];
  killedAt: number;
  grants: Grant[];
}

/** Seeds grants, runs exchange load, kills the master (`kill`), waits for 50 successes after the kill. */
async function failoverUnderLoad(w: ForwardWorld, grantIds: string[], kill: () => Promise<void>): Promise<Outcome> {
  const grants: Grant[] = [];
  for (const id of grantIds) grants.push(await w.vault.seedGrant(`user-${id}`, { id, consent: { [AGENT_A]: ['crm:records.read'] } }));
  const body = new URLSearchParams(await exchangeParams(w.vault.ids, `user-${grantIds[0]}`, AGENT_A, { scope: 'crm:records.read' })).toString();
  const load = startExchangeLoad(w.vault.internalUrl, w.vault.pki, body, 2, 5);
  try {
    await expect.poll(() => load.shots.filter((s) => s.status === 200).length, { timeout: 30_000 }).toBeGreaterThanOrEqual(20);
    const killedAt = performance.now();
    await kill();
    const recovered = () => load.shots.filter((s) => s.status === 200 && s.sentAt > killedAt + DETECT_MS).length;
    await expect.poll(recovered, { timeout: RECOVERY_BOUND_MS, interval: 200 }).toBeGreaterThanOrEqual(50);
    return { shots: await load.stop(), killedAt, grants };
  } finally {
    await load.stop();
  }
}

async function expectNothingLost(label: string, w: ForwardWorld, { shots, killedAt, grants }: Outcome): Promise<void> {
  const issued = shots.filter((s) => s.status === 200);
  const failedAfterKill = shots.filter((s) => s.status !== 200 && s.sentAt >= killedAt);
  const firstFailure = Math.min(...failedAfterKill.map((s) => s.sentAt));
  const firstBack = Math.min(...issued.filter((s) => s.sentAt > firstFailure).map((s) => s.sentAt));
  const audited = new Set((await auditRecords(w.vault.runtime)).filter((r) => r.action === 'token.exchange' && r.decision === 'allow').map((r) => r.jti));
  const jtiOf = (s: Shot) =>
    (JSON.parse(Buffer.from((s.body as { access_token: string }).access_token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
  const withoutAudit = issued.filter((s) => !audited.has(jtiOf(s)));
  const present = await Promise.all(grants.map((g) => w.vault.runtime.stores.grants.get(g.id)));
  console.log(`\n${label}: kill -9 of the master`);
  console.table({
    exchanges: shots.length,
    issued: issued.length,
    '503 after the kill': failedAfterKill.length,
    'exchanges succeed again after (ms)': Math.round(firstBack - killedAt),
    '503 once they did': failedAfterKill.filter((s) => s.sentAt > firstBack).length,
    'grants lost': present.filter((g) => g === null).length,
    'tokens without audit': withoutAudit.length,
  });
  expect(present.map((g) => g?.id)).toStrictEqual(grants.map((g) => g.id));
  expect(withoutAudit).toStrictEqual([]);
  for (const s of issued) expect(s.body).toMatchObject({ token_type: 'Bearer', issued_token_type: JWT_TYPE });
  for (const s of shots.filter((x) => x.status !== 200))
    expect({ status: s.status, body: s.body }).toStrictEqual({ status: 503, body: { ...unavailable, request_id: s.requestId } });
  expect(firstBack - killedAt).toBeLessThan(RECOVERY_BOUND_MS);
}

describe('Redis Cluster failover under exchange load', () => {
  let cluster: RedisClusterHandle;
  let w: ForwardWorld;

  beforeAll(async () => {
    cluster = await startRedisCluster({ nodeTimeoutMs: DETECT_MS });
    w = await startForwardWorld({ store: { kind: 'redis', redis: { mode: 'cluster', nodes: cluster.urls } } });
  }, 240_000);

  afterAll(async () => {
    await w?.close();
    await cluster?.stop();
  });

  it(
    'kill -9 of the master holding the grants and the audit chain: 0 grants lost, 0 tokens without audit, 503 until its replica serves',
    { timeout: TEST_BOUND_MS },
    async () => {
      const victim = (await cluster.masters())[0]!;
      const onVictim = async (key: string) => (await cluster.masterOf(key)) === victim;
      // Grants on the victim's shard: ids are drawn until their tag hashes there. The load exchanges
      // the first one, and the vault (a lone audit writer) appends those records to that grant's
      // chain (src/store/audit-store.ts auditChainOf), so the first is drawn until its chain's
      // stream is on the victim as well.
      const ids: string[] = [];
      while (ids.length < GRANTS) {
        const id = `g-${randomUUID()}`;
        if (!(await onVictim(KEYS.grant(id)))) continue;
        if (ids.length === 0 && !(await onVictim(KEYS.auditLog(auditChainOfGrant(id, AUDIT_CHAINS_DEFAULT))))) continue;
        ids.push(id);
      }
      const outcome = await failoverUnderLoad(w, ids, () => cluster.node(victim).kill());
      await expectNothingLost('cluster', w, outcome);
      expect(await cluster.masters()).not.toContain(victim);
    },
  );
});

describe('Redis Sentinel failover under exchange load', () => {
  let sentinel: RedisSentinelHandle;
  let w: ForwardWorld;

  beforeAll(async () => {
    sentinel = await startRedisSentinel({ downAfterMs: DETECT_MS });
    w = await startForwardWorld({ store: { kind: 'redis', redis: { mode: 'sentinel', nodes: sentinel.sentinelUrls, masterName: sentinel.name } } });
  }, 240_000);

  afterAll(async () => {
    await w?.close();
    await sentinel?.stop();
  });

  it('kill -9 of the master: 0 grants lost, 0 tokens without audit, 503 until the sentinels promote the replica', { timeout: TEST_BOUND_MS }, async () => {
    const victim = await sentinel.master();
    const ids = Array.from({ length: GRANTS }, () => `g-${randomUUID()}`);
    const outcome = await failoverUnderLoad(w, ids, () => sentinel.server(victim).kill());
    await expectNothingLost('sentinel', w, outcome);
    expect(await sentinel.master()).not.toBe(victim);
  });
});
