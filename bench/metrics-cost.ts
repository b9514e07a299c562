/**
 * `BENCH_ONLY=metrics npm run bench`: what the metrics cost an exchange. Two vaults in the same
 * process on the same Redis, identical but for `listeners.metrics.enabled` (on: every request
 * timed per listener and route, the exchange counted, each store call timed, the audit append
 * and upstream cache recorded; off: none of those hooks exist), measured alternately in each
 * round with the same load, after a warm-up of both. The on-vault is scraped once per round
 * (what a Prometheus scrape every 15 s adds is not in the hot path).
 */
import { request } from 'node:http';
import { VaultMetrics } from '../src/metrics/metrics.js';
import { AGENT_A, crmProvider, exchangeParams, startExchangeVault, testAgents } from '../test/helpers/exchange-fixture.js';

export type Figures = Record<'rps' | 'p50' | 'p99' | 'cpuUs' | 'non2xx' | 'errors', number>;
export type Load<F extends Figures> = (
  url: string,
  tls: { ca: string; cert: string; key: string },
  request: { method: 'POST'; body: string; headers: Record<string, string> },
  duration?: number,
) => Promise<F>;

function scrape(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(`${url}/metrics`, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve(bytes));
    })
      .on('error', reject)
      .end();
  });
}

/**
 * The recorder calls one exchange makes, in a loop: a CPU figure that does not depend on the
 * machine's load the way req/s does. `storeCalls`: store methods per exchange, from the on-vault's
 * own counters; each is timed with two performance.now() calls besides its observe().
 */
function recorderUsPerExchange(storeCalls: number): number {
  const metrics = new VaultMetrics({ providers: { crm: crmProvider }, agents: testAgents } as unknown as ConstructorParameters<typeof VaultMetrics>[0]);
  const trail = { agent: AGENT_A, provider: 'crm', operation: 'crm:records.read' };
  const one = () => {
    metrics.http.request('internal', '/exchange', 200, 0.0004);
    metrics.exchange.exchanged('issued', trail);
    metrics.upstreamAccess.cacheLookup('crm', true);
    for (let i = 0; i < storeCalls; i++) {
      const started = performance.now();
      metrics.store.command('grants.get', (performance.now() - started) / 1000, true);
    }
    metrics.audit.queued(1);
    metrics.audit.queued(0);
    metrics.audit.appended(0.0003, 1, true);
  };
  for (let i = 0; i < 20_000; i++) one();
  const n = 200_000;
  const started = process.cpuUsage();
  for (let i = 0; i < n; i++) one();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / n;
}

function counter(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].reduce((sum, m) => sum + Number(m[1]), 0);
}

function scrapeText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(`${url}/metrics`, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(text));
    })
      .on('error', reject)
      .end();
  });
}

export async function benchMetricsCost<F extends Figures>(
  load: Load<F>,
  options: { redisUrl?: string; rounds: number; fig: (f: F) => string },
): Promise<string[]> {
  const start = (enabled: boolean, keyPrefix: string) =>
    startExchangeVault({
      ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
      overrides: {
        log: { level: 'warn' },
        listeners: { public: { host: '127.0.0.1', port: 0 }, internal: { host: '127.0.0.1', port: 0 }, metrics: { enabled, host: '127.0.0.1', port: 0 } },
        ...(options.redisUrl ? { store: { kind: 'redis', redis: { url: options.redisUrl, keyPrefix } } } : {}),
      },
    });
  const on = await start(true, 'on:');
  const off = await start(false, 'off:');
  const exchangeOf = async (vault: typeof on) => {
    await vault.seedGrant('alice');
    const body = new URLSearchParams(await exchangeParams(vault.ids, 'alice', AGENT_A)).toString();
    return { method: 'POST' as const, body, headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' } };
  };
  const targets = [
    { name: 'on', vault: on, request: await exchangeOf(on) },
    { name: 'off', vault: off, request: await exchangeOf(off) },
  ];
  const tls = (vault: typeof on) => ({ ca: vault.pki.ca, cert: vault.pki.gateway.cert, key: vault.pki.gateway.key });
  for (const t of targets) await load(`${t.vault.internalUrl}/exchange`, tls(t.vault), t.request, 3);

  const rows: string[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    // Alternate which goes first, so a drift in the machine's load does not favour one side.
    const order = round % 2 === 1 ? targets : [...targets].reverse();
    const figures: Record<string, F> = {};
    for (const t of order) figures[t.name] = await load(`${t.vault.internalUrl}/exchange`, tls(t.vault), t.request);
    const bytes = await scrape(on.metricsUrl!);
    const a = figures.on!;
    const b = figures.off!;
    rows.push(
      `| ${round} | ${options.fig(a)} | ${options.fig(b)} | ${(a.rps / b.rps).toFixed(3)} | ${(a.cpuUs / b.cpuUs).toFixed(3)} | ${a.non2xx + b.non2xx}/${a.errors + b.errors} | ${bytes} |`,
    );
  }
  const text = await scrapeText(on.metricsUrl!);
  const exchanges = counter(text, /^tv_exchanges_total\{[^}]*\} (\d+)$/gm);
  const storeCalls = counter(text, /^tv_redis_command_duration_seconds_count\{[^}]*\} (\d+)$/gm) / Math.max(1, exchanges);
  const recorderUs = recorderUsPerExchange(Math.round(storeCalls));
  await on.close();
  await off.close();
  return [
    `recorder work per exchange (${storeCalls.toFixed(2)} store calls each, in a loop): ${recorderUs.toFixed(2)} µs CPU`,
    '',
    '| round | metrics on: exchanges/s (p50/p99 ms, server CPU µs/req) | metrics off (same) | req/s on/off | CPU µs/req on/off | non-2xx/errors | scrape bytes |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ];
}
