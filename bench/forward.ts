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
 * Tokens: one operation token whose record allows every use of the run,
 * stored through the TokenStore exactly as /exchange stores one. Each
 * forward still reads the token, spends a use with the same atomic script a
 * single-use token goes through, reads the grant and the cached upstream
 * token, and writes its audit records; what it leaves out is the /exchange a
 * single-use token needs per call, which the exchange rows measure.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { x5tS256 } from '../src/crypto/thumbprint.js';
import { mintOperationToken } from '../src/tokens/operation-token.js';
import { AGENT_A, crmProvider, startExchangeVault, testAgents } from '../test/helpers/exchange-fixture.js';
import { nginxBinary, processCpuUs, startChild, startNginx, type ChildServer, type NginxProxy } from './procs.js';

/** What bench/run.ts's load() reports, as far as these rows use it. */
type Figures = Record<'rps' | 'total' | 'p50' | 'p99' | 'cpuUs' | 'non2xx' | 'errors', number>;
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
  rounds: Array<Record<'direct' | 'vault' | 'nginx' | 'relay', { rps: number; cpuUs: number; upstreamUs: number }>>;
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

    for (const name of Object.keys(paths) as Path[]) {
      if (!paths[name]) continue;
      const check = await measure(name, 1);
      if (check.non2xx > 0 || check.errors > 0) throw new Error(`${name} does not answer 2xx`);
      await measure(name, 3);
    }

    const rounds: ForwardRows['rounds'] = [];
    const rows: string[] = [];
    const skipped = { rps: NaN, cpuUs: NaN, upstreamUs: NaN, p50: NaN, p99: NaN, non2xx: 0, errors: 0, total: 0 } as F & { upstreamUs: number };
    const cell = (f: F & { upstreamUs: number }) => `${options.fig(f)}, up ${f.upstreamUs.toFixed(0)} µs`;
    for (let round = 1; round <= options.rounds; round++) {
      const d = await measure('direct');
      const v = await measure('vault');
      const n = paths.nginx ? await measure('nginx') : skipped;
      const r = await measure('relay');
      const pick = (f: typeof d) => ({ rps: f.rps, cpuUs: f.cpuUs, upstreamUs: f.upstreamUs });
      rounds.push({ direct: pick(d), vault: pick(v), nginx: pick(n), relay: pick(r) });
      rows.push(
        `| ${round} | ${cell(d)} | ${cell(v)} | ${cell(n)} | ${cell(r)} | ${(v.rps / n.rps).toFixed(2)} | ${(v.cpuUs / r.cpuUs).toFixed(2)} | ${(v.upstreamUs / d.upstreamUs).toFixed(2)} | ${v.non2xx}/${v.errors} |`,
      );
    }
    const maxRps = rounds.reduce((sum, r) => sum + r.vault.rps, 0) / rounds.length;
    const half = await measure('vault', undefined, Math.max(1, Math.round(maxRps / 2)));
    lines.push(
      '',
      '/forward: the same upstream GET straight to the upstream, through the vault, nginx and an undici relay (req/s (p50/p99 ms, proxy CPU µs/req), upstream CPU µs/req)',
      '',
      '| round | direct (the upstream itself) | via /forward | via nginx | via undici relay | vault/nginx req/s (goal ≥ 0.5) | vault/relay CPU (goal ≤ 2) | upstream CPU vault/direct (goal 1) | forward non-2xx/errors |',
      '|---|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      `/forward at 50 % of its maximum rate (${(maxRps / 2).toFixed(0)} req/s asked): ${half.rps.toFixed(0)} req/s, p50 ${half.p50} ms, p99 ${half.p99} ms (goal < 10 ms), ${half.cpuUs.toFixed(0)} µs vault CPU/req, ${half.non2xx}/${half.errors} non-2xx/errors`,
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
