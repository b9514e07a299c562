/**
 * The /forward part of `npm run bench`: the same upstream request sent four
 * ways in the same round, over the same client certificate and connection
 * count: straight to the upstream (`GET /api/records/1` with the upstream
 * bearer token), through the vault (`GET /forward/crm/records/1`, mTLS, token
 * redeemed, upstream token injected, answer streamed back, audit records),
 * through nginx as an injecting proxy (mTLS, `proxy_set_header
 * Authorization`; skipped with a message when nginx is not installed), and
 * through a minimal undici relay (bench/relay.ts). The upstream runs in its
 * own process (bench/upstream.ts), so each row reports the proxy's CPU per
 * request and the upstream's.
 *
 * CPU per request falls as a server's request rate rises (more requests per
 * event-loop wake-up, idle costs spread thinner), so each round also runs the
 * direct path and the relay at the rate the vault reached: the upstream's and
 * the relay's CPU per request at that rate are the like-for-like yardsticks.
 * These fixed-rate runs, and /forward at 50 % of its maximum rate, are evenly
 * paced (bench/paced.ts through bench/run.ts's load()), not autocannon's
 * per-second bursts; the as-fast-as-possible rows use autocannon.
 * Each run also prints the Redis commands per forward (INFO commandstats).
 * `BENCH_FORWARD_PATHS=vault` (a comma list of direct, vault, nginx, relay)
 * runs only those paths, e.g. to profile the vault alone with --cpu-prof.
 *
 * Tokens: one operation token whose record allows every use of the run,
 * stored through the TokenStore exactly as /exchange stores one. Each
 * forward still reads the token, spends a use with the same atomic script a
 * single-use token goes through, reads the grant and the cached upstream
 * token, and writes its audit records; what it leaves out is the /exchange a
 * single-use token needs per call, which the exchange rows measure.
 */
import { X509Certificate } from 'node:crypto';
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { x5tS256 } from '../src/crypto/thumbprint.js';
import { mintOperationToken } from '../src/tokens/operation-token.js';
import { AGENT_A, crmProvider, startExchangeVault, testAgents } from '../test/helpers/exchange-fixture.js';
import { loopFig, watchLoop } from './loop-watch.js';
import { nginxBinary, processCpuUs, startChild, startNginx, type ChildServer, type NginxProxy } from './procs.js';

/** What bench/run.ts's load() reports, as far as these rows use it (lagP99: fixed-rate runs, bench/paced.ts). */
type Figures = Record<'rps' | 'total' | 'p50' | 'p99' | 'cpuUs' | 'non2xx' | 'errors', number> & { lagP99?: number };
type Load<F extends Figures> = (
  url: string,
  tls: { ca: string; cert: string; key: string },
  request: { method: 'GET'; headers?: Record<string, string> },
  duration?: number,
  rate?: number,
) => Promise<F>;

const UPSTREAM_TOKEN = 'bench-upstream-access-token';
const GATEWAY = 'spiffe://dev.local/gateway';

export interface ForwardRows {
  lines: string[];
  /** Per round: req/s and CPU µs/req of each path, for the goal lines. */
  rounds: Array<Record<'direct' | 'vault' | 'nginx' | 'relay' | 'directAtVaultRate' | 'relayAtVaultRate', { rps: number; cpuUs: number; upstreamUs: number }>>;
}

export async function benchForward<F extends Figures>(
  load: Load<F>,
  options: { redisUrl?: string; rounds: number; fig: (f: F) => string },
): Promise<ForwardRows> {
  const upstream = await startChild('./upstream.ts', { BENCH_UPSTREAM_TOKEN: UPSTREAM_TOKEN });
  const upstreamOrigin = `http://127.0.0.1:${upstream.port}`;
  const vault = await startExchangeVault({
    ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
    providers: {
      crm: {
        ...crmProvider,
        apiBaseUrl: `${upstreamOrigin}/api`,
        operations: { 'records.read': { description: 'Read', methods: ['GET'], paths: ['/records/{id}'] } },
      },
    },
    agents: { [AGENT_A]: { ...testAgents[AGENT_A], operations: ['crm:records.read'] } },
    overrides: { log: { level: 'warn' } },
  });
  const tlsFiles = { cert: vault.runtime.tls.cert, key: vault.runtime.tls.key, ca: vault.runtime.tls.gatewayCa };
  const dir = mkdtempSync('/tmp/bench-relay-');
  let relay: ChildServer | undefined;
  let nginx: NginxProxy | undefined;
  const lines: string[] = [];
  try {
    for (const [name, pem] of Object.entries(tlsFiles)) writeFileSync(`${dir}/${name}.pem`, pem);
    relay = await startChild('./relay.ts', {
      BENCH_UPSTREAM_ORIGIN: upstreamOrigin,
      BENCH_UPSTREAM_TOKEN: UPSTREAM_TOKEN,
      BENCH_TLS_CERT: `${dir}/cert.pem`,
      BENCH_TLS_KEY: `${dir}/key.pem`,
      BENCH_TLS_CA: `${dir}/ca.pem`,
    });
    const binary = nginxBinary();
    if (binary) nginx = await startNginx(binary, tlsFiles, upstream.port, UPSTREAM_TOKEN);
    else lines.push('', 'nginx row skipped: nginx is not installed (apt-get install -y nginx-light)');

    const grant = await vault.seedGrant(
      'alice',
      { consent: { [AGENT_A]: ['crm:records.read'] } },
      { accessToken: { value: UPSTREAM_TOKEN, expiresInMs: 3_600_000 } },
    );
    const now = Math.floor(Date.now() / 1000);
    const ttl = 900;
    const thumbprint = x5tS256(new X509Certificate(vault.pki.gateway.cert).raw);
    const claims = {
      issuer: vault.config.publicUrl!,
      userId: grant.userId,
      agent: AGENT_A,
      provider: 'crm',
      operation: 'crm:records.read',
      gateway: GATEWAY,
      certThumbprint: thumbprint,
      issuedAt: now,
      expiresAt: now + ttl,
    };
    const { token, jti, proof } = mintOperationToken(vault.runtime.keys.signingKeys, claims);
    await vault.runtime.stores.tokens.put(
      {
        jti,
        grantId: grant.id,
        userId: grant.userId,
        agent: AGENT_A,
        provider: 'crm',
        operation: 'crm:records.read',
        gateway: GATEWAY,
        certThumbprint: thumbprint,
        usesLeft: 1_000_000_000,
        expiresAt: (now + ttl) * 1000,
        proof,
      },
      ttl * 1000,
    );

    const tls = { ca: vault.pki.ca, cert: vault.pki.gateway.cert, key: vault.pki.gateway.key };
    const get = (authorization?: string) => ({ method: 'GET' as const, headers: authorization ? { authorization } : {} });
    const paths = {
      direct: { url: `${upstreamOrigin}/api/records/1`, request: get(`Bearer ${UPSTREAM_TOKEN}`), pid: undefined as number | undefined },
      vault: { url: `${vault.internalUrl}/forward/crm/records/1`, request: get(`Bearer ${token}`), pid: process.pid },
      nginx: nginx ? { url: `https://127.0.0.1:${nginx.port}/api/records/1`, request: get(), pid: nginx.workerPid } : undefined,
      relay: { url: `https://127.0.0.1:${relay.port}/relay/records/1`, request: get(), pid: relay.pid },
    };
    type Path = keyof typeof paths;
    /** The proxy's CPU per request (the vault's is the bench process's, as load() measures it) and the upstream's. */
    const measure = async (name: Path, duration?: number, rate?: number) => {
      const path = paths[name]!;
      const upBefore = processCpuUs(upstream.pid);
      const proxyBefore = path.pid === undefined || path.pid === process.pid ? 0 : processCpuUs(path.pid);
      const f = await load(path.url, tls, path.request, duration, rate);
      const upstreamUs = (processCpuUs(upstream.pid) - upBefore) / Math.max(1, f.total);
      const cpuUs = path.pid === undefined ? upstreamUs : path.pid === process.pid ? f.cpuUs : (processCpuUs(path.pid) - proxyBefore) / Math.max(1, f.total);
      return { ...f, cpuUs, upstreamUs };
    };

    // BENCH_FORWARD_PATHS=vault (a comma list of direct, vault, nginx, relay): only those rows, e.g. to profile the vault alone.
    const only = process.env.BENCH_FORWARD_PATHS?.split(',');
    if (only) for (const name of Object.keys(paths) as Path[]) if (!only.includes(name)) paths[name] = undefined as never;
    for (const name of Object.keys(paths) as Path[]) {
      if (!paths[name]) continue;
      const check = await measure(name, 1);
      if (check.non2xx > 0 || check.errors > 0) throw new Error(`${name} does not answer 2xx`);
      await measure(name, 3);
    }

    // What one forward asks of Redis, by command (INFO commandstats around the vault's runs).
    const stats = options.redisUrl ? new Redis(options.redisUrl) : undefined;
    const calls = async () => {
      const counts = new Map<string, number>();
      for (const [, name, n] of ((await stats?.info('commandstats')) ?? '').matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) counts.set(name!, Number(n));
      return counts;
    };
    const perForward = new Map<string, number>();
    let forwards = 0;
    const rounds: ForwardRows['rounds'] = [];
    const rows: string[] = [];
    const skipped = { rps: NaN, cpuUs: NaN, upstreamUs: NaN, p50: NaN, p99: NaN, non2xx: 0, errors: 0, total: 0 } as F & { upstreamUs: number };
    const cell = (f: F & { upstreamUs: number }) => `${options.fig(f)}, up ${f.upstreamUs.toFixed(0)} µs`;
    const run = (name: Path, duration?: number, rate?: number) => (paths[name] ? measure(name, duration, rate) : Promise.resolve(skipped));
    for (let round = 1; round <= options.rounds; round++) {
      const d = await run('direct');
      const before = await calls();
      const v = await run('vault');
      const after = await calls();
      forwards += v.total;
      for (const [name, n] of after) perForward.set(name, (perForward.get(name) ?? 0) + n - (before.get(name) ?? 0));
      // The upstream's CPU per request depends on its request rate (fewer requests per event-loop wake-up
      // at a lower rate): the direct path again at the vault's rate is the like-for-like yardstick.
      const same = paths.vault && v.rps > 0 ? await run('direct', undefined, Math.round(v.rps)) : skipped;
      // Likewise a proxy's own CPU per request: the relay at the vault's rate.
      const relaySame = paths.vault && v.rps > 0 ? await run('relay', undefined, Math.round(v.rps)) : skipped;
      const n = await run('nginx');
      const r = await run('relay');
      const pick = (f: typeof d) => ({ rps: f.rps, cpuUs: f.cpuUs, upstreamUs: f.upstreamUs });
      rounds.push({ direct: pick(d), vault: pick(v), nginx: pick(n), relay: pick(r), directAtVaultRate: pick(same), relayAtVaultRate: pick(relaySame) });
      rows.push(
        `| ${round} | ${cell(d)} | ${cell(v)} | ${cell(n)} | ${cell(r)} | ${(v.rps / n.rps).toFixed(2)} | ${(v.cpuUs / r.cpuUs).toFixed(2)} (relay at the vault's rate ${relaySame.cpuUs.toFixed(0)} µs: ${(v.cpuUs / relaySame.cpuUs).toFixed(2)}) | ${(v.upstreamUs / d.upstreamUs).toFixed(2)} (${same.upstreamUs.toFixed(0)} µs direct at ${same.rps.toFixed(0)} req/s: ${(v.upstreamUs / same.upstreamUs).toFixed(2)}) | ${v.non2xx}/${v.errors} |`,
      );
    }
    stats?.disconnect();
    const commands = [...perForward].filter(([name, n]) => n > 0 && name !== 'info').sort((a, b) => b[1] - a[1]);
    const maxRps = rounds.reduce((sum, r) => sum + r.vault.rps, 0) / rounds.length;
    const loop = watchLoop();
    const half = await run('vault', undefined, Math.max(1, Math.round(maxRps / 2)));
    const halfLoop = loop();
    lines.push(
      '',
      '/forward: the same upstream GET straight to the upstream, through the vault, nginx and an undici relay (req/s (p50/p99 ms, proxy CPU µs/req), upstream CPU µs/req)',
      '',
      "| round | direct (the upstream itself) | via /forward | via nginx | via undici relay | vault/nginx req/s (goal ≥ 0.5) | vault/relay CPU (goal ≤ 2; in brackets: the relay at the vault's rate) | upstream CPU vault/direct (goal 1; in brackets: direct at the vault's rate) | forward non-2xx/errors |",
      '|---|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      `Redis commands per forward (INFO commandstats over the vault's runs, background timers included): ${commands.map(([name, n]) => `${name} ${(n / Math.max(1, forwards)).toFixed(2)}`).join(', ') || 'n/a (memory store)'}`,
      '',
      `/forward at 50 % of its maximum rate (${(maxRps / 2).toFixed(0)} req/s asked, evenly paced): ${half.rps.toFixed(0)} req/s, p50 ${half.p50} ms, p99 ${half.p99} ms (goal < 10 ms; from each request's due time, the generator noticed them due late by p99 ${half.lagP99} ms), ${half.cpuUs.toFixed(0)} µs vault CPU/req, ${half.non2xx}/${half.errors} non-2xx/errors; the vault's ${loopFig(halfLoop)}`,
    );
    return { lines, rounds };
  } finally {
    await vault.close();
    await nginx?.stop();
    await relay?.stop();
    await upstream.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
