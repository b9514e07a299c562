/**
 * `npm run bench`: /exchange against a bare Fastify mTLS JSON route, in the
 * same process and round, over keep-alive mTLS connections (autocannon with
 * the gateway client certificate, in a worker thread so it has its own core).
 *
 * The exchange path is the hot one: a warm upstream access-token cache and the
 * same identity tokens on every request (so their verification is cached).
 * Store: a private Redis with AOF (what production runs), audit through the
 * hash-chained writer. Reports requests/s, p50/p99 latency and the ratio.
 *
 * Options (env): BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 32),
 * BENCH_ROUNDS (default 2), BENCH_STORE=memory to skip Redis, BENCH_ONLY=exchange
 * to skip the ceiling (for profiling with --cpu-prof).
 */
import { cpus } from 'node:os';
import { createServer } from 'node:https';
import type { Server as HttpServer } from 'node:http';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { AGENT_A, exchangeParams, startExchangeVault } from '../test/helpers/exchange-fixture.js';
import { startRedis, type RedisHandle } from '../test/helpers/redis-server.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const useRedis = process.env.BENCH_STORE !== 'memory';

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function load(
  url: string,
  tls: { ca: string; cert: string; key: string },
  request: { method: 'GET' | 'POST'; body?: string; headers?: Record<string, string> },
  duration = seconds,
): Promise<Figures> {
  const result = await autocannon({
    url,
    connections,
    duration,
    workers: 1,
    tlsOptions: tls,
    method: request.method,
    ...(request.body ? { body: request.body } : {}),
    headers: request.headers ?? {},
  });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors };
}

async function main(): Promise<void> {
  let redis: RedisHandle | undefined;
  if (useRedis) redis = await startRedis();
  const vault = await startExchangeVault({ ...(redis ? { redisUrl: redis.url } : {}), overrides: { log: { level: 'warn' } } });
  await vault.seedGrant('alice');
  const body = new URLSearchParams(await exchangeParams(vault.ids, 'alice', AGENT_A)).toString();
  const tls = { ca: vault.pki.ca, cert: vault.pki.gateway.cert, key: vault.pki.gateway.key };

  // The ceiling: the same TLS settings, one JSON route, nothing else.
  const bare = Fastify({
    serverFactory: (handler) =>
      createServer({ cert: vault.runtime.tls.cert, key: vault.runtime.tls.key, ca: [vault.runtime.tls.gatewayCa], requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, handler) as unknown as HttpServer,
  });
  bare.get('/bare', async () => ({ ok: true }));
  await bare.listen({ host: '127.0.0.1', port: 0 });
  const bareUrl = `https://127.0.0.1:${(bare.server.address() as { port: number }).port}/bare`;

  const sanity = await vault.exchange(body);
  if (sanity.status !== 200) throw new Error(`exchange does not work: ${sanity.status} ${sanity.text}`);

  const exchange = { method: 'POST' as const, body, headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' } };
  // Warm-up (JIT, connection pools, caches), not reported.
  await load(bareUrl, tls, { method: 'GET' }, 3);
  await load(`${vault.internalUrl}/exchange`, tls, exchange, 3);

  const results: Array<{ round: number; bare: Figures; exchange: Figures }> = [];
  for (let round = 1; round <= rounds; round++) {
    const b = process.env.BENCH_ONLY === 'exchange' ? { rps: NaN, p50: NaN, p99: NaN, non2xx: 0, errors: 0 } : await load(bareUrl, tls, { method: 'GET' });
    const e = process.env.BENCH_ONLY === 'bare' ? b : await load(`${vault.internalUrl}/exchange`, tls, exchange);
    results.push({ round, bare: b, exchange: e });
  }

  const cpu = cpus()[0]?.model ?? 'unknown';
  const lines = [
    `machine: ${cpus().length} CPUs (${cpu}); node ${process.version}; ${new Date().toISOString()}`,
    `store: ${useRedis ? 'redis (private, AOF everysec)' : 'memory'}; ${connections} keep-alive mTLS connections; 3 s warm-up each, then ${seconds} s per run; autocannon in a worker thread`,
    '',
    '| round | bare req/s | bare p50/p99 ms | exchanges/s | exchange p50/p99 ms | ratio | non-2xx/errors |',
    '|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.round} | ${r.bare.rps.toFixed(0)} | ${r.bare.p50}/${r.bare.p99} | ${r.exchange.rps.toFixed(0)} | ${r.exchange.p50}/${r.exchange.p99} | ${(r.exchange.rps / r.bare.rps).toFixed(2)} | ${r.exchange.non2xx}/${r.exchange.errors} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  await bare.close();
  await vault.close();
  await redis?.stop();
}

await main();
