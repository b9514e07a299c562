/**
 * The /forward bench's upstream, in its own process so its CPU per request
 * can be compared across paths (direct, vault, nginx, undici relay): a bare
 * Fastify route on plain loopback HTTP that checks the injected bearer token.
 * Tells its parent `{ port }` once listening.
 */
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';

const token = process.env.BENCH_UPSTREAM_TOKEN ?? '';
const upstream = Fastify();
upstream.get('/api/records/:id', async (request, reply) => {
  if (request.headers.authorization !== `Bearer ${token}`) return reply.code(401).send({ error: 'invalid_token' });
  return { id: (request.params as { id: string }).id, name: 'Ada' };
});
await upstream.listen({ host: '127.0.0.1', port: 0 });
process.send?.({ port: (upstream.server.address() as AddressInfo).port });
process.once('disconnect', () => void upstream.close().then(() => process.exit(0)));
