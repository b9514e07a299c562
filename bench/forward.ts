/**
 * The /forward part of `npm run bench`: the same upstream request sent
 * through the vault (`GET /forward/crm/records/1`, mTLS, token redeemed,
 * upstream token injected, answer streamed back, audit record) and straight
 * to the upstream (`GET /api/records/1` with the upstream bearer token), in
 * the same process and round. The upstream is a bare Fastify route on plain
 * loopback HTTP that checks the bearer token, so the difference is the
 * vault's own work plus its TLS termination.
 *
 * Tokens: one operation token whose record allows every use of the run,
 * stored through the TokenStore exactly as /exchange stores one. Each
 * forward still verifies the JWT, spends a use with the same atomic script a
 * single-use token goes through, reads the grant and the cached upstream
 * token, and writes its audit record; what it leaves out is the /exchange a
 * single-use token needs per call, which the exchange rows measure.
 */
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import Fastify from 'fastify';
import { x5tS256 } from '../src/crypto/thumbprint.js';
import { mintOperationToken } from '../src/tokens/operation-token.js';
import { AGENT_A, crmProvider, startExchangeVault, testAgents } from '../test/helpers/exchange-fixture.js';

/** What bench/run.ts's load() reports, as far as these rows use it. */
type Figures = Record<'rps' | 'p50' | 'cpuUs' | 'non2xx' | 'errors', number>;
type Load<F extends Figures> = (
  url: string,
  tls: { ca: string; cert: string; key: string },
  request: { method: 'GET'; headers?: Record<string, string> },
  duration?: number,
) => Promise<F>;

const UPSTREAM_TOKEN = 'bench-upstream-access-token';
const GATEWAY = 'spiffe://dev.local/gateway';

export async function benchForward<F extends Figures>(load: Load<F>, options: { redisUrl?: string; rounds: number; fig: (f: F) => string }): Promise<string[]> {
  const upstream = Fastify();
  upstream.get('/api/records/:id', async (request, reply) => {
    if (request.headers.authorization !== `Bearer ${UPSTREAM_TOKEN}`) return reply.code(401).send({ error: 'invalid_token' });
    return { id: (request.params as { id: string }).id, name: 'Ada' };
  });
  await upstream.listen({ host: '127.0.0.1', port: 0 });
  const upstreamOrigin = `http://127.0.0.1:${(upstream.server.address() as AddressInfo).port}`;

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
  try {
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
    const direct = { url: `${upstreamOrigin}/api/records/1`, request: { method: 'GET' as const, headers: { authorization: `Bearer ${UPSTREAM_TOKEN}` } } };
    const forward = { url: `${vault.internalUrl}/forward/crm/records/1`, request: { method: 'GET' as const, headers: { authorization: `Bearer ${token}` } } };
    const check = await load(forward.url, tls, forward.request, 1);
    if (check.non2xx > 0 || check.errors > 0) throw new Error('forward does not answer 2xx');
    await load(direct.url, tls, direct.request, 3);
    await load(forward.url, tls, forward.request, 3);

    const rows: string[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const d = await load(direct.url, tls, direct.request);
      const f = await load(forward.url, tls, forward.request);
      rows.push(
        `| ${round} | ${options.fig(d)} | ${options.fig(f)} | ${(f.rps / d.rps).toFixed(2)} | ${(f.p50 - d.p50).toFixed(0)} | ${(f.cpuUs - d.cpuUs).toFixed(0)} | ${f.non2xx}/${f.errors} |`,
      );
    }
    return [
      '',
      '/forward: the same upstream GET through the vault vs straight to the upstream (plain loopback HTTP)',
      '',
      '| round | direct req/s (p50/p99 ms, server CPU µs/req) | via /forward req/s (same) | ratio | added p50 ms | added CPU µs/req | forward non-2xx/errors |',
      '|---|---|---|---|---|---|---|',
      ...rows,
    ];
  } finally {
    await vault.close();
    await upstream.close();
  }
}
