/**
 * `BENCH_ONLY=resilience npm run bench`: the resilience figures (the tests in
 * test/integration/resilience/ hold generous bounds; these are the exact numbers):
 * - time to fail in a stall: exchanges answered during `CLIENT PAUSE 3000` (4 at a time), their
 *   status and latency (p50/p99/max);
 * - time to recover: two vaults on one Redis, Redis paused (SIGSTOP) or killed for 3 s, then each
 *   vault's time from Redis answering again to its first 200;
 * - a burst: 200 concurrent exchanges, each on a new mTLS connection, against a healthy Redis: 503s,
 *   other failures, p50/p99 and the time for all of them;
 * - what `store.redis.minReplicasAck: 1` costs (WAIT after every audit append): exchanges/s, p50/p99
 *   and server CPU per exchange against a primary with one replica, with it on and off.
 */
import { Redis } from 'ioredis';
import { Agent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { AGENT_A, exchangeParams, startExchangeVault, type ExchangeVault } from '../test/helpers/exchange-fixture.js';
import { call } from '../test/helpers/https-client.js';
import { timeRecovery } from '../test/helpers/redis-recovery.js';
import { startRedis, type RedisHandle } from '../test/helpers/redis-server.js';
import type { Figures, Load } from './metrics-cost.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
const ms = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return `${quantile(s, 0.5).toFixed(0)}/${quantile(s, 0.99).toFixed(0)}/${(s[s.length - 1] ?? NaN).toFixed(0)} ms`;
};

async function exchangeOnce(vault: ExchangeVault, url: string, body: string, agent: Agent): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const res = await call(`${url}/exchange`, { method: 'POST', ca: vault.pki.ca, client: vault.pki.gateway, agent, headers: FORM, body });
  return { status: res.status, ms: performance.now() - started };
}

const agentFor = (vault: ExchangeVault, keepAlive: boolean, maxSockets: number) =>
  new Agent({ keepAlive, maxSockets, ca: vault.pki.ca, cert: vault.pki.gateway.cert, key: vault.pki.gateway.key });

async function stall(redis: RedisHandle, vault: ExchangeVault, body: string): Promise<string> {
  const agent = agentFor(vault, true, 4);
  await exchangeOnce(vault, vault.internalUrl, body, agent);
  const admin = new Redis(redis.url);
  await admin.client('PAUSE', 3_000, 'ALL');
  const started = performance.now();
  const answers: { status: number; ms: number }[] = [];
  while (performance.now() - started < 2_500) {
    answers.push(...(await Promise.all(Array.from({ length: 4 }, () => exchangeOnce(vault, vault.internalUrl, body, agent)))));
  }
  admin.disconnect();
  agent.destroy();
  await sleep(1_000);
  const statuses = [...new Set(answers.map((a) => a.status))].join(',');
  return `| stall (CLIENT PAUSE 3000), time to 503 | ${answers.length} answers, status ${statuses} | ${ms(answers.map((a) => a.ms))} |`;
}

async function recovery(redis: RedisHandle, vaults: ExchangeVault[], bodies: string[], outage: 'paused' | 'killed'): Promise<string> {
  const agents = vaults.map((v) => agentFor(v, true, 2));
  const callers = vaults.map((vault, i) => () => exchangeOnce(vault, vault.internalUrl, bodies[i]!, agents[i]!));
  const recovered = await timeRecovery({ redis, outage, callers, warmupMs: 300, pauseBetweenMs: 5 });
  for (const a of agents) a.destroy();
  await sleep(500);
  return `| recovery after Redis ${outage} 3 s: first 200 per replica after Redis answers | ${vaults.length} replicas | ${recovered.map((t) => `${t.toFixed(0)} ms`).join(', ')} |`;
}

async function burst(vault: ExchangeVault, body: string, round: number): Promise<string> {
  const agent = agentFor(vault, false, 200);
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: 200 }, () => exchangeOnce(vault, vault.internalUrl, body, agent).catch(() => ({ status: 0, ms: NaN }))),
  );
  const total = performance.now() - started;
  agent.destroy();
  const count = (s: number) => answers.filter((a) => a.status === s).length;
  const others = answers.length - count(200) - count(503);
  return `| burst ${round}: 200 concurrent exchanges on new mTLS connections | ${count(503)} × 503, ${others} other failures, all in ${total.toFixed(0)} ms | ${ms(answers.map((a) => a.ms))} |`;
}

async function waitCost<F extends Figures>(load: Load<F>, rounds: number, fig: (f: F) => string): Promise<string[]> {
  const primary = await startRedis();
  const replica = await startRedis(['--replicaof', '127.0.0.1', String(primary.port)]);
  const probe = new Redis(replica.url);
  while (!(await probe.info('replication')).includes('master_link_status:up')) await sleep(50);
  probe.disconnect();
  // Each test vault has its own PKI and issuers, hence its own key prefix.
  const redisOverride = (minReplicasAck: number) => ({
    store: { kind: 'redis', redis: { url: primary.url, minReplicasAck, keyPrefix: `tv${minReplicasAck}:` } },
    log: { level: 'warn' },
  });
  const off = await startExchangeVault({ redisUrl: primary.url, overrides: redisOverride(0) });
  const on = await startExchangeVault({ redisUrl: primary.url, overrides: redisOverride(1) });
  const rows: string[] = [
    '',
    '| round | minReplicasAck 0: exchanges/s (p50/p99 ms, server CPU µs/req) | minReplicasAck 1 (WAIT) | ratio | non-2xx with WAIT |',
    '|---|---|---|---|---|',
  ];
  try {
    const requests = await Promise.all(
      [off, on].map(async (v) => {
        await v.seedGrant('alice');
        return { method: 'POST' as const, body: new URLSearchParams(await exchangeParams(v.ids, 'alice', AGENT_A)).toString(), headers: FORM };
      }),
    );
    const tls = { ca: off.pki.ca, cert: off.pki.gateway.cert, key: off.pki.gateway.key };
    const tlsOn = { ca: on.pki.ca, cert: on.pki.gateway.cert, key: on.pki.gateway.key };
    for (const [i, v] of [off, on].entries()) {
      const sanity = await v.exchange(requests[i]!.body);
      if (sanity.status !== 200) throw new Error(`exchange with minReplicasAck ${i} answers ${sanity.status} ${sanity.text}`);
    }
    await load(`${off.internalUrl}/exchange`, tls, requests[0]!, 3);
    await load(`${on.internalUrl}/exchange`, tlsOn, requests[1]!, 3);
    for (let round = 1; round <= rounds; round++) {
      const a = await load(`${off.internalUrl}/exchange`, tls, requests[0]!);
      const b = await load(`${on.internalUrl}/exchange`, tlsOn, requests[1]!);
      rows.push(`| ${round} | ${fig(a)} | ${fig(b)} | ${(b.rps / a.rps).toFixed(2)} | ${a.non2xx}/${a.errors}, ${b.non2xx}/${b.errors} |`);
    }
  } finally {
    await off.close();
    await on.close();
    await replica.stop();
    await primary.stop();
  }
  return rows;
}

export async function benchResilience<F extends Figures>(load: Load<F>, options: { rounds: number; fig: (f: F) => string }): Promise<string[]> {
  const redis = await startRedis();
  // Two replicas on one Redis, each with its own test PKI and issuers, hence its own key prefix.
  const replicaOf = (keyPrefix: string) =>
    startExchangeVault({ redisUrl: redis.url, overrides: { store: { kind: 'redis', redis: { url: redis.url, keyPrefix } }, log: { level: 'warn' } } });
  const vaults = [await replicaOf('tv:'), await replicaOf('tv2:')];
  const rows = ['| figure | what | p50/p99/max latency, or time per replica |', '|---|---|---|'];
  try {
    const bodies: string[] = [];
    for (const v of vaults) {
      await v.seedGrant('alice');
      bodies.push(new URLSearchParams(await exchangeParams(v.ids, 'alice', AGENT_A)).toString());
    }
    rows.push(await stall(redis, vaults[0]!, bodies[0]!));
    for (const outage of ['paused', 'killed'] as const) rows.push(await recovery(redis, vaults, bodies, outage));
    for (let round = 1; round <= 3; round++) rows.push(await burst(vaults[0]!, bodies[0]!, round));
  } finally {
    for (const v of vaults) await v.close();
    await redis.stop();
  }
  return [...rows, ...(await waitCost(load, options.rounds, options.fig))];
}
