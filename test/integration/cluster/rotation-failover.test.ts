/**
 * A rotated refresh token across a failover, on a Sentinel set (master, replica, 3 sentinels) and
 * on a Cluster (3 masters, 1 replica each). The replica of the master holding the grant (and, on
 * the Cluster, the grant's audit chain) lags (test/helpers/replica-lag.ts); the provider
 * (oidc-provider with rotation and reuse detection) rotates the grant's refresh token; the master
 * is killed (`kill -9`), the lagging replica promoted, the old master started again (it rejoins as
 * a replica). Counted: rotated refresh tokens lost, grants revoked upstream, tokens issued without
 * their audit record, the time from the kill until exchanges succeed again.
 *
 * - `minReplicasAck: 1`: the commit of the new token is not acknowledged, so nothing derived from
 *   it is released (503) and it stays held (memory, spool, lock) until a master with a replica
 *   takes it: 0 lost, 0 revoked, 0 tokens without audit.
 * - `minReplicasAck: 0`: the commit, the issued token's audit record and the refresh's audit
 *   record were acknowledged by the master alone and die with it. The promoted replica holds the
 *   spent token; the next refresh presents it and the provider's reuse detection revokes the whole
 *   grant (RFC 9700 §4.14.2): 1 rotated token lost of 1, the grant parked, 1 token without audit.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { WRITER_TTL_MS } from '../../../src/audit/chain-owners.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOAuthServer, type FakeOAuthServer } from '../../../src/dev/fake-oauth-server.js';
import { TemporarilyUnavailable } from '../../../src/errors.js';
import { openRefreshToken } from '../../../src/grants/secrets.js';
import { auditChainOfGrant } from '../../../src/store/audit-store.js';
import { AGENT_A, JWT_TYPE, type ExchangeVault } from '../../helpers/exchange-fixture.js';
import { FAKE_CLIENT_ID, fakeClient } from '../../helpers/fake-providers/catalog.js';
import type { Response } from '../../helpers/https-client.js';
import { startRedisCluster, type RedisClusterHandle } from '../../helpers/redis-cluster.js';
import type { RedisNode } from '../../helpers/redis-node.js';
import { waitFor } from '../../helpers/redis-node.js';
import { startRedisSentinel, type RedisSentinelHandle } from '../../helpers/redis-sentinel.js';
import { caughtUp, cutReplication } from '../../helpers/replica-lag.js';
import { withRequestId } from '../../helpers/request-id.js';
import { SF_SCOPE, startSalesforceVault, storm } from '../../helpers/salesforce-vault.js';

/** Failure detection of the harness (cluster-node-timeout, down-after-milliseconds). */
const DETECT_MS = 2_000;
/** Generous: detection, election, a restart and a full resync of the old master, on a loaded 2-vCPU box. */
const RECOVERY_BOUND_MS = 60_000;
const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: new TemporarilyUnavailable().description };
const RELINK = `https://127.0.0.1:8443/connections/salesforce?agent=${encodeURIComponent(AGENT_A)}&operation=salesforce%3Arecords.read`;
const CONSENT_REQUIRED = { error: 'consent_required', error_description: 'grant needs re-consent', error_uri: RELINK };

/**
 * Until the previous test's vault no longer counts as a live audit writer (its presence runs out
 * WRITER_TTL_MS after its last renewal; leaving at close can fail across a failover): this test's
 * vault must write as a lone writer, so a record goes to its grant's chain (src/audit/chain-owners.ts).
 */
const previousVaultGone = () => sleep(WRITER_TTL_MS + 200);

interface Topology {
  redis(minReplicasAck: number): Record<string, unknown>;
  /** Port of the master serving `key` now. */
  masterOf(key: string): Promise<number>;
  node(port: number): RedisNode;
  promoted(victim: number): Promise<boolean>;
  waitHealthy(timeoutMs: number): Promise<void>;
}

interface Figures {
  first: Response;
  /** Every exchange from the kill on, until one is answered other than 503. */
  after: Response[];
  promotedMs: number;
  /** From the kill to the first answer other than 503. */
  settledMs: number;
  /** 0 when the grant holds a refresh token newer than the seeded one that the provider takes, else 1. */
  rotatedLost: number;
  revoked: number;
  withoutAudit: number;
  refreshAudited: number;
  grant: { status: string; version: number };
}

let salesforce: FakeOAuthServer;

beforeAll(async () => {
  salesforce = await startFakeOAuthServer({ profile: 'salesforce', clients: [fakeClient] });
});

afterAll(async () => {
  await salesforce?.stop();
});

const jtiOf = (res: Response) =>
  (JSON.parse(Buffer.from((res.json() as { access_token: string }).access_token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;

/** Rotates a grant's refresh token while its master's replica lags, kills that master, counts. */
async function rotateAcrossFailover(topology: Topology, minReplicasAck: number): Promise<Figures> {
  const vault: ExchangeVault = await startSalesforceVault({ salesforce: { server: salesforce } }, undefined, async () => ({
    store: { kind: 'redis', redis: { ...topology.redis(minReplicasAck), replicaAckTimeoutMs: 200 } },
  }));
  try {
    // A grant whose record and audit chain share one master (on a Cluster ids are drawn until they do).
    let id: string;
    let victim: number;
    for (;;) {
      id = `g-${randomUUID()}`;
      victim = await topology.masterOf(`tv:{g:${id}}:grant`);
      if ((await topology.masterOf(`tv:{audit:${auditChainOfGrant(id, vault.config.audit.chains)}}:log`)) === victim) break;
    }
    const user = `user-${id}`;
    const { refreshToken } = await salesforce.issueRefreshTokenFor({ accountId: 'alice', clientId: FAKE_CLIENT_ID, scope: SF_SCOPE });
    const seeded = await vault.seedGrant(
      user,
      { id, provider: 'salesforce', instanceUrl: salesforce.origin, consent: { [AGENT_A]: ['salesforce:records.read'] } },
      { refreshToken, accessToken: null },
    );
    await caughtUp(victim);
    const lag = await cutReplication(victim);
    const before = { revoked: salesforce.revokedGrants, refreshes: salesforce.refreshes };
    const exchange = async () => (await storm(vault, vault.internalUrl, 'salesforce', user, 1))[0]!;

    const first = await exchange();
    expect(salesforce.refreshes - before.refreshes).toBe(1);
    const killedAt = performance.now();
    await topology.node(victim).kill();
    await lag.restore();
    const after: Response[] = [];
    let settledAt = 0;
    const exchanges = (async () => {
      while (performance.now() - killedAt < RECOVERY_BOUND_MS) {
        const res = await exchange();
        after.push(res);
        if (res.status !== 503) {
          settledAt = performance.now();
          return;
        }
        await sleep(100);
      }
    })();
    await waitFor('the replica to be promoted', RECOVERY_BOUND_MS, () => topology.promoted(victim));
    const promotedAt = performance.now();
    await topology.node(victim).restart();
    await topology.waitHealthy(RECOVERY_BOUND_MS);
    await exchanges;

    const stored = (await vault.runtime.stores.grants.get(id).catch((err: unknown) => {
      throw new Error(`grant unreadable after the failover; answers since the kill: ${after.map((r) => r.status).join(' ')}`, { cause: err });
    }))!;
    const current = openRefreshToken(vault.runtime.envelope, stored);
    const records = await vault.auditRecords();
    const audited = new Set(records.filter((r) => r.action === 'token.exchange' && r.decision === 'allow').map((r) => r.jti));
    const issued = [first, ...after].filter((r) => r.status === 200);
    for (const res of issued) expect(res.json()).toMatchObject({ token_type: 'Bearer', issued_token_type: JWT_TYPE });
    return {
      first,
      after,
      promotedMs: Math.round(promotedAt - killedAt),
      settledMs: Math.round(settledAt - killedAt),
      rotatedLost: current !== openRefreshToken(vault.runtime.envelope, seeded) && (await salesforce.isRefreshTokenActive(current)) ? 0 : 1,
      revoked: salesforce.revokedGrants - before.revoked,
      withoutAudit: issued.filter((r) => !audited.has(jtiOf(r))).length,
      refreshAudited: records.filter((r) => r.action === 'upstream.refresh' && r.grant === id && r.decision === 'allow').length,
      grant: { status: stored.status, version: stored.version },
    };
  } finally {
    await vault.close();
  }
}

function report(label: string, f: Figures): void {
  console.log(`\n${label}`);
  console.table({
    'first exchange': f.first.status,
    'exchanges after the kill': `${f.after.length - 1} × 503, then ${f.after.at(-1)?.status}`,
    'replica promoted after (ms)': f.promotedMs,
    'exchanges answered again after (ms)': f.settledMs,
    'rotated refresh tokens lost': f.rotatedLost,
    'grants revoked upstream': f.revoked,
    'tokens without audit': f.withoutAudit,
  });
}

function expectNoneLost(f: Figures): void {
  expect(f.first.status).toBe(503);
  expect(f.first.json()).toStrictEqual(withRequestId(f.first, UNAVAILABLE));
  const last = f.after.at(-1)!;
  expect(last.status).toBe(200);
  for (const res of f.after.slice(0, -1)) expect(res.json()).toStrictEqual(withRequestId(res, UNAVAILABLE));
  expect({ rotatedLost: f.rotatedLost, revoked: f.revoked, withoutAudit: f.withoutAudit, refreshAudited: f.refreshAudited, grant: f.grant }).toStrictEqual({
    rotatedLost: 0,
    revoked: 0,
    withoutAudit: 0,
    refreshAudited: 1,
    grant: { status: 'active', version: 2 },
  });
  expect(f.settledMs).toBeLessThan(RECOVERY_BOUND_MS);
}

function expectLostWithoutAck(f: Figures): void {
  expect(f.first.status).toBe(200);
  const last = f.after.at(-1)!;
  expect(last.status).toBe(400);
  expect(last.json()).toStrictEqual(withRequestId(last, CONSENT_REQUIRED));
  for (const res of f.after.slice(0, -1)) expect(res.json()).toStrictEqual(withRequestId(res, UNAVAILABLE));
  expect({ rotatedLost: f.rotatedLost, revoked: f.revoked, withoutAudit: f.withoutAudit, refreshAudited: f.refreshAudited, grant: f.grant }).toStrictEqual({
    rotatedLost: 1,
    revoked: 1,
    withoutAudit: 1,
    refreshAudited: 0,
    grant: { status: 'consent_required', version: 2 },
  });
}

/** The two cases on one topology, which `start` brings up (and says how to stop). */
function describeRotationFailover(name: 'Sentinel' | 'Cluster', start: () => Promise<{ topology: Topology; stop(): Promise<void> }>): void {
  const label = name.toLowerCase();
  describe(`a rotated refresh token across a ${name} failover`, () => {
    let up: { topology: Topology; stop(): Promise<void> } | undefined;

    beforeAll(async () => {
      up = await start();
    }, 240_000);

    afterAll(async () => {
      await up?.stop();
    });

    it('minReplicasAck 1: 0 rotated refresh tokens lost, 0 revoked, 0 tokens without audit', { timeout: 180_000 }, async () => {
      const figures = await rotateAcrossFailover(up!.topology, 1);
      report(`${label}, minReplicasAck 1`, figures);
      expectNoneLost(figures);
    });

    it('minReplicasAck 0: the rotation dies with the master, the provider revokes the grant', { timeout: 180_000 }, async () => {
      await up!.topology.waitHealthy(RECOVERY_BOUND_MS);
      await previousVaultGone();
      const figures = await rotateAcrossFailover(up!.topology, 0);
      report(`${label}, minReplicasAck 0`, figures);
      expectLostWithoutAck(figures);
    });
  });
}

describeRotationFailover('Sentinel', async () => {
  const sentinel: RedisSentinelHandle = await startRedisSentinel({ downAfterMs: DETECT_MS });
  return {
    topology: {
      redis: (minReplicasAck) => ({ mode: 'sentinel', nodes: sentinel.sentinelUrls, masterName: sentinel.name, minReplicasAck }),
      masterOf: () => sentinel.master(),
      node: (port) => sentinel.server(port),
      promoted: async (victim) => (await sentinel.master()) !== victim,
      waitHealthy: (ms) => sentinel.waitHealthy(ms),
    },
    stop: () => sentinel.stop(),
  };
});

describeRotationFailover('Cluster', async () => {
  const cluster: RedisClusterHandle = await startRedisCluster({ nodeTimeoutMs: DETECT_MS });
  return {
    topology: {
      redis: (minReplicasAck) => ({ mode: 'cluster', nodes: cluster.urls, minReplicasAck }),
      masterOf: (key) => cluster.masterOf(key),
      node: (port) => cluster.node(port),
      promoted: async (victim) => {
        const masters = await cluster.masters();
        return masters.length === 3 && !masters.includes(victim);
      },
      waitHealthy: (ms) => cluster.waitHealthy(ms),
    },
    stop: () => cluster.stop(),
  };
});
