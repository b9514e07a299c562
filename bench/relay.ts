/**
 * The undici relay of the /forward bench: the least a Node injecting proxy
 * does. An mTLS HTTPS listener (the vault's TLS settings and certificates)
 * that sends each request to the upstream with the bearer token injected,
 * through one keep-alive undici pool, and streams the answer back. No token,
 * no Redis, no audit. Tells its parent `{ port }` once listening.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

const env = (name: string) => process.env[name] ?? '';
const pool = new Pool(env('BENCH_UPSTREAM_ORIGIN'), { keepAliveTimeout: 10_000 });
const authorization = `Bearer ${env('BENCH_UPSTREAM_TOKEN')}`;
const server = createServer(
  {
    cert: readFileSync(env('BENCH_TLS_CERT')),
    key: readFileSync(env('BENCH_TLS_KEY')),
    ca: readFileSync(env('BENCH_TLS_CA')),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  },
  (req, res) => {
    const path = `/api${(req.url ?? '/').replace(/^\/relay/, '')}`;
    pool.request({ method: 'GET', path, headers: { authorization, 'accept-encoding': 'identity' } }).then(
      (answer) => {
        res.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type'] ?? 'application/json') });
        answer.body.pipe(res);
      },
      () => {
        res.writeHead(502).end();
      },
    );
  },
);
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
process.once('disconnect', () => {
  server.close();
  void pool.close().then(() => process.exit(0));
});
