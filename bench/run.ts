/**
 * `npm run bench`: /exchange against two bare Fastify mTLS JSON routes, in the
 * same process and round, over keep-alive mTLS connections (autocannon with
 * the gateway client certificate, in a child process (bench/load.ts) so the
 * server's CPU time per request can be measured; the fixed-rate rows, such as
 * p99 at 50 % of the maximum rate, use an evenly paced open-loop generator
 * instead (bench/paced.ts, in bench/paced-load.ts's child process), which
 * measures each request's latency from the time it was due):
 * `GET /bare` (no body: the transport ceiling) and `POST /bare-form` (the
 * exchange's own ~1.4 KB form body, parsed, small JSON answer: the same-request
 * ceiling, so the ratio to it isolates the vault's own work).
 *
 * The exchange path is the hot one: a warm upstream access-token cache and the
 * same identity tokens on every request (so their verification is cached).
 * Store: a private Redis with AOF (what production runs), audit through the
 * hash-chained writer. Reports requests/s, p50/p99 latency and the ratio.
 *
 * Options (env): BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 32),
 * BENCH_ROUNDS (default 2), BENCH_STORE=memory to skip Redis, BENCH_ONLY=exchange
 * to skip the ceilings (for profiling with --cpu-prof), BENCH_ONLY=bare to skip the exchange,
 * BENCH_TRACING=on to run the vault with tracing on (bench/tracing.ts).
 * The exchange's peer, node-oidc-provider serving RFC 8693 (bench/peer-oidc-provider.ts), runs in the
 * same rounds as /exchange (BENCH_PEER=off to leave it out, e.g. when profiling the exchange). The
 * component floor (bench/floor.ts) needs the bare form POST, so BENCH_ONLY=exchange prints no floor.
 * BENCH_ONLY=metrics for the exchange with metrics on and off (bench/metrics-cost.ts).
 * BENCH_ONLY=resilience for time to fail in a stall, time to recover, 503s in a burst and the cost of
 * `minReplicasAck` (bench/resilience.ts).
 * BENCH_ONLY=audit for audit append records/s with 1, 4 and 16 chains and 3 writer processes, each
 * row beside the one-chain writer from before N chains in the same run (bench/audit-contention.ts,
 * with its env: R, C, S, CHAINS, ROUNDS, BEFORE).
 * BENCH_ONLY=topology for Redis commands, bytes and CPU (redis-server and vault) per exchange and per
 * forward on standalone and on a 3-master Cluster, and memory per record (bench/topology.ts;
 * BENCH_OPS, BENCH_CONCURRENCY).
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createServer } from 'node:https';
import type { Server as HttpServer } from 'node:http';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchTopology } from './topology.js';
import type autocannon from 'autocannon';
import formbody from '@fastify/formbody';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { AGENT_A, exchangeParams, startExchangeVault } from '../test/helpers/exchange-fixture.js';
import { startRedis, type RedisHandle } from '../test/helpers/redis-server.js';
import { benchForward } from './forward.js';
import { benchTracing } from './tracing.js';
import { benchMetricsCost } from './metrics-cost.js';
import { measureFloor } from './floor.js';
import { benchResilience } from './resilience.js';
import { sanUri, startOidcProviderPeer } from './peer-oidc-provider.js';
import type { PacedOptions } from './paced.js';
import { loopFig, watchLoop } from './loop-watch.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const useRedis = process.env.BENCH_STORE !== 'memory';
const requestsPerRun = Number(process.env.BENCH_REQUESTS ?? 0);

interface Figures {
  rps: number;
  /** Fixed-rate runs only: p99 of how late the paced generator noticed a request was due (its own lateness), ms. */
  lagP99?: number;
  total: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** Server process CPU time (all its threads) per request, µs: steadier than req/s on a shared VM. */
  cpuUs: number;
}

async function load(
  url: string,
  tls: { ca: string; cert: string; key: string },
  request: { method: 'GET' | 'POST'; body?: string; headers?: Record<string, string> },
  duration = seconds,
  /** A fixed rate (req/s over all connections), evenly paced (bench/paced.ts), instead of as fast as possible. */
  rate?: number,
): Promise<Figures> {
  const child = fork(fileURLToPath(new URL(rate ? './paced-load.ts' : './load.ts', import.meta.url)), { execArgv: ['--import', 'tsx'] });
  await new Promise<void>((resolve) => child.once('spawn', resolve));
  const before = process.cpuUsage();
  const common = { url, connections, method: request.method, ...(request.body ? { body: request.body } : {}), headers: request.headers ?? {} };
  // BENCH_REQUESTS: a fixed number of requests per run instead of a duration, so CPU per request
  // does not depend on how much of the machine other work leaves (fixed-rate runs keep the duration).
  const options: autocannon.Options | PacedOptions = rate
    ? { ...common, tls, rate, seconds: duration }
    : { ...common, tlsOptions: tls, ...(requestsPerRun && duration === seconds ? { amount: requestsPerRun } : { duration }) };
  const result = await new Promise<{ rps: number; total: number; p50: number; p99: number; non2xx: number; errors: number; warmup?: number }>(
    (resolve, reject) => {
      child.once('message', resolve as (message: unknown) => void);
      child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
      child.send(options);
    },
  );
  const cpu = process.cpuUsage(before);
  // Includes the idle server during the child's start-up (timers only): noise at thousands of requests.
  // The paced generator's connection-opening requests (one per connection) are served too.
  return { ...result, cpuUs: (cpu.user + cpu.system) / Math.max(1, result.total + (result.warmup ?? 0)) };
}

const fig = (f: Figures) => `${f.rps.toFixed(0)} (${f.p50}/${f.p99}, ${f.cpuUs.toFixed(0)} µs)`;

/** What redis-server did: CPU seconds, socket reads (≈ client flushes) and commands, from INFO. */
interface RedisCounters {
  cpuUs: number;
  reads: number;
  commands: number;
}

async function redisCounters(client: Redis): Promise<RedisCounters> {
  const info = await client.info();
  const num = (name: string) => Number(new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1] ?? NaN);
  return {
    cpuUs: (num('used_cpu_sys') + num('used_cpu_user')) * 1e6,
    reads: num('total_reads_processed'),
    commands: num('total_commands_processed'),
  };
}

/** Per answered exchange; the stats client's own INFO calls are 2 commands per run (noise). */
const redisFig = (before: RedisCounters, after: RedisCounters, total: number) =>
  `${((after.cpuUs - before.cpuUs) / total).toFixed(0)} µs, ${((after.reads - before.reads) / total).toFixed(2)} reads, ${((after.commands - before.commands) / total).toFixed(2)} cmds`;

async function main(): Promise<void> {
  if (process.env.BENCH_ONLY === 'audit') {
    // Its own private redis-server and writer processes; prints and records its own table.
    execFileSync(process.execPath, [...process.execArgv, fileURLToPath(new URL('./audit-contention.ts', import.meta.url))], { stdio: 'inherit' });
    return;
  }
  let redis: RedisHandle | undefined;
  if (useRedis) redis = await startRedis();
  // BENCH_ONLY=forward: only the /forward rows (bench/forward.ts); otherwise they follow the exchange rows.
  const forwardRows = async () => (await benchForward(load, { ...(redis ? { redisUrl: redis.url } : {}), rounds, fig })).lines;
  if (process.env.BENCH_ONLY === 'metrics') {
    const rows = await benchMetricsCost(load, { ...(redis ? { redisUrl: redis.url } : {}), rounds, fig });
    report([machineLine(), ...rows]);
    await redis?.stop();
    return;
  }
  if (process.env.BENCH_ONLY === 'resilience') {
    await redis?.stop();
    process.stdout.write(`${[machineLine(), ...(await benchResilience(load, { rounds, fig }))].join('\n')}\n`);
    return;
  }
  if (process.env.BENCH_ONLY === 'topology') {
    await redis?.stop();
    process.stdout.write(`${machineLine()}\n${await benchTopology()}\n`);
    return;
  }
  if (process.env.BENCH_ONLY === 'forward') {
    report([machineLine(), ...(await forwardRows())]);
    await redis?.stop();
    return;
  }
  // Before the vault's listeners are built: they register the request-span plugin only if tracing is on.
  const tracing = await benchTracing();
  const vault = await startExchangeVault({ ...(redis ? { redisUrl: redis.url } : {}), overrides: { log: { level: 'warn' } } });
  await vault.seedGrant('alice');
  const body = new URLSearchParams(await exchangeParams(vault.ids, 'alice', AGENT_A)).toString();
  const tls = { ca: vault.pki.ca, cert: vault.pki.gateway.cert, key: vault.pki.gateway.key };

  // The ceiling: the same TLS settings, one JSON route, nothing else.
  const bare = Fastify({
    serverFactory: (handler) =>
      createServer(
        {
          cert: vault.runtime.tls.cert,
          key: vault.runtime.tls.key,
          ca: [vault.runtime.tls.gatewayCa],
          requestCert: true,
          rejectUnauthorized: true,
          minVersion: 'TLSv1.2',
        },
        handler,
      ) as unknown as HttpServer,
  });
  bare.get('/bare', async () => ({ ok: true }));
  // The same-body ceiling: the exchange's form POST (same bytes, same headers), parsed, small JSON answer.
  await bare.register(async (scope) => {
    await scope.register(formbody);
    scope.post('/bare-form', async (request) => ({ ok: typeof (request.body as Record<string, unknown>).grant_type === 'string' }));
  });
  await bare.listen({ host: '127.0.0.1', port: 0 });
  const bareOrigin = `https://127.0.0.1:${(bare.server.address() as { port: number }).port}`;
  const bareUrl = `${bareOrigin}/bare`;
  const bareFormUrl = `${bareOrigin}/bare-form`;

  const sanity = await vault.exchange(body);
  if (sanity.status !== 200) throw new Error(`exchange does not work: ${sanity.status} ${sanity.text}`);

  const exchange = { method: 'POST' as const, body, headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' } };
  const peer =
    process.env.BENCH_PEER === 'off' || process.env.BENCH_ONLY === 'bare'
      ? undefined
      : await startOidcProviderPeer({
          tls: { cert: vault.runtime.tls.cert, key: vault.runtime.tls.key, gatewayCa: vault.runtime.tls.gatewayCa },
          gatewayId: sanUri(vault.pki.gateway.cert),
          subject: { issuer: vault.ids.idp.issuer, jwksFile: vault.ids.idp.jwksFile, alg: vault.ids.idp.alg },
          actor: { issuer: vault.ids.agents.issuer, jwksFile: vault.ids.agents.jwksFile, alg: vault.ids.agents.alg },
          audience: vault.ids.audience,
          scope: 'crm:records.read',
          ...(redis ? { redisUrl: redis.url } : {}),
        });
  const peerRequest = peer && { ...exchange, body: peer.body(body) };
  // Warm-up (JIT, connection pools, caches), not reported.
  const only = process.env.BENCH_ONLY;
  const skipped: Figures = { rps: NaN, total: 0, p50: NaN, p99: NaN, non2xx: 0, errors: 0, cpuUs: NaN };
  if (only !== 'exchange') {
    const check = await load(bareFormUrl, tls, exchange, 1);
    if (check.non2xx > 0 || check.errors > 0) throw new Error('bare-form route does not answer 2xx');
    await load(bareUrl, tls, { method: 'GET' }, 3);
    await load(bareFormUrl, tls, exchange, 3);
  }
  await load(`${vault.internalUrl}/exchange`, tls, exchange, 3);
  if (peer && peerRequest) {
    const check = await load(peer.url, tls, peerRequest, 1);
    if (check.non2xx > 0 || check.errors > 0) throw new Error('the oidc-provider peer does not answer 2xx');
    await load(peer.url, tls, peerRequest, 3);
  }

  const stats = redis ? new Redis(redis.url) : undefined;
  const results: Array<{ round: number; bare: Figures; bareForm: Figures; exchange: Figures; peer: Figures; redis: string }> = [];
  for (let round = 1; round <= rounds; round++) {
    const b = only === 'exchange' ? skipped : await load(bareUrl, tls, { method: 'GET' });
    const f = only === 'exchange' ? skipped : await load(bareFormUrl, tls, exchange);
    const before = stats ? await redisCounters(stats) : undefined;
    const e = only === 'bare' ? skipped : await load(`${vault.internalUrl}/exchange`, tls, exchange);
    const after = stats ? await redisCounters(stats) : undefined;
    const p = peer && peerRequest ? await load(peer.url, tls, peerRequest) : skipped;
    results.push({ round, bare: b, bareForm: f, exchange: e, peer: p, redis: before && after && e.total > 0 ? redisFig(before, after, e.total) : 'n/a' });
  }
  stats?.disconnect();

  const done = results.filter((r) => r.exchange.total > 0);
  const meanOf = (pick: (r: (typeof results)[number]) => number) => done.reduce((sum, r) => sum + pick(r), 0) / Math.max(1, done.length);
  const tail: string[] = [];
  if (only !== 'bare' && done.length > 0) {
    const maxRps = meanOf((r) => r.exchange.rps);
    const loop = watchLoop();
    const half = await load(`${vault.internalUrl}/exchange`, tls, exchange, seconds, Math.max(1, Math.round(maxRps / 2)));
    const halfLoop = loop();
    tail.push(
      '',
      `/exchange at 50 % of its maximum rate (${(maxRps / 2).toFixed(0)} req/s asked, evenly paced): ${half.rps.toFixed(0)} req/s, p50 ${half.p50} ms, p99 ${half.p99} ms (goal < 10 ms; from each request's due time, the generator noticed them due late by p99 ${half.lagP99} ms), ${half.cpuUs.toFixed(0)} µs vault CPU/req, ${half.non2xx}/${half.errors} non-2xx/errors; the vault's ${loopFig(halfLoop)}`,
    );
    const peerDone = done.filter((r) => r.peer.total > 0);
    if (peerDone.length > 0) {
      const sum = (pick: (r: (typeof results)[number]) => number) => peerDone.reduce((total, r) => total + pick(r), 0);
      tail.push(
        '',
        `/exchange against the oidc-provider RFC 8693 peer over ${peerDone.length} rounds: ${(sum((r) => r.exchange.rps) / sum((r) => r.peer.rps)).toFixed(2)}× its req/s (goal ≥ 3), ${(sum((r) => r.peer.cpuUs) / sum((r) => r.exchange.cpuUs)).toFixed(2)}× less server CPU per request`,
      );
    }
    if (only !== 'exchange') {
      const params = new URLSearchParams(body);
      const floor = await measureFloor({
        barePostUs: meanOf((r) => r.bareForm.cpuUs),
        signingKey: vault.runtime.keys.signingKeys.active,
        tokens: [params.get('subject_token') ?? '', params.get('actor_token') ?? ''],
        ...(redis ? { redisUrl: redis.url } : {}),
      });
      const exchangeUs = meanOf((r) => r.exchange.cpuUs);
      tail.push(
        '',
        `exchange component floor (CPU µs per exchange, measured in this run): ${Object.entries(floor.components)
          .map(([name, us]) => `${name} ${us.toFixed(1)}`)
          .join(
            ' + ',
          )} = ${floor.total.toFixed(0)} µs; the vault's mean ${exchangeUs.toFixed(0)} µs is ${(exchangeUs / floor.total).toFixed(2)}× it (goal ≤ 1.5); per round, each with its own bare POST: ${done
          .map((r) => (r.exchange.cpuUs / (floor.total - (floor.components['bare POST'] ?? 0) + r.bareForm.cpuUs)).toFixed(2))
          .join(', ')}`,
      );
    }
  }

  const cpu = cpus()[0]?.model ?? 'unknown';
  const lines = [
    `machine: ${cpus().length} CPUs (${cpu}); node ${process.version}; ${new Date().toISOString()}`,
    `store: ${useRedis ? 'redis (private, AOF everysec)' : 'memory'}; ${tracing.label}; ${connections} keep-alive mTLS connections; 3 s warm-up each, then ${seconds} s per run; autocannon in a child process (the 50 % row: bench/paced.ts)`,
    '',
    '| round | bare GET req/s (p50/p99 ms, server CPU µs/req) | bare form POST req/s (same) | exchanges/s (same) | oidc-provider RFC 8693 peer req/s (same) | exchange/peer req/s (goal ≥ 3) | peer/exchange CPU µs | ratio to GET | ratio to form POST | exchange non-2xx/errors, peer | redis-server per exchange (CPU, socket reads, commands) |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.round} | ${fig(r.bare)} | ${fig(r.bareForm)} | ${fig(r.exchange)} | ${fig(r.peer)} | ${(r.exchange.rps / r.peer.rps).toFixed(2)} | ${(r.peer.cpuUs / r.exchange.cpuUs).toFixed(2)} | ${(r.exchange.rps / r.bare.rps).toFixed(2)} | ${(r.exchange.rps / r.bareForm.rps).toFixed(2)} | ${r.exchange.non2xx}/${r.exchange.errors}, ${r.peer.non2xx}/${r.peer.errors} | ${r.redis} |`,
    ),
  ];
  await bare.close();
  await peer?.close();
  await vault.close();
  await tracing.stop();
  report([...lines, ...tail, ...(only === undefined ? await forwardRows() : [])]);
  await redis?.stop();
}

/** Prints the run's tables and appends them to bench/RESULTS.md with the commit, Node version and load average. */
function report(lines: string[]): void {
  process.stdout.write(`${lines.join('\n')}\n`);
  if (process.env.BENCH_RESULTS === 'off') return;
  const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
  const dirty = git('status', '--porcelain', '--untracked-files=no') === '' ? '' : ' (uncommitted changes)';
  const header = `\n## \`npm run bench\`, ${new Date().toISOString()}: commit ${git('rev-parse', '--short', 'HEAD')}${dirty}, node ${process.version}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} at the end (${startLoad} at the start)\n\n`;
  appendFileSync(new URL('./RESULTS.md', import.meta.url), `${header}${lines.join('\n')}\n`);
}

const startLoad = loadavg()
  .map((l) => l.toFixed(2))
  .join(' ');

function machineLine(): string {
  return `machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}); node ${process.version}; ${new Date().toISOString()}; ${connections} keep-alive connections, ${seconds} s per run`;
}

await main();
