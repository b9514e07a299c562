/**
 * Liveness and readiness, served on both listeners.
 * `/healthz` answers for the process only; `/readyz` also proves the store
 * answers (bounded by the store's command timeout) and key material is loaded.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Stores } from '../store/stores.js';

export interface HealthOptions {
  stores: Stores;
  keysLoaded: () => boolean;
  /** Archive lag per chain (src/audit/archive/), when the PostgreSQL archive is on: a detail, never a failure. */
  archiveLag?: () => { chain: number; archivedThrough: number; lagSeconds: number }[];
}

/** On the internal listener both gateways and admins may probe health. */
const config = { peer: ['gateway', 'admin'] as const };

const check = z.enum(['ok', 'fail']);
const healthBody = z.object({ status: z.literal('ok') });
const readyBody = z.object({
  status: z.enum(['ok', 'unavailable']),
  checks: z.object({ store: check, keys: check }),
  /** Redis holds what is not archived yet; a growing lag is worth an alert, not a restart. */
  archive: z.object({ chains: z.array(z.object({ chain: z.number().int(), archivedThrough: z.number().int(), lagSeconds: z.number() })) }).optional(),
});

export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, { stores, keysLoaded, archiveLag }) => {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get(
    '/healthz',
    { schema: { summary: 'Liveness: the process is up', tags: ['health'], response: { 200: healthBody } }, logLevel: 'warn', config },
    async () => ({ status: 'ok' as const }),
  );

  routes.get(
    '/readyz',
    {
      schema: { summary: 'Readiness: store reachable and keys loaded', tags: ['health'], response: { 200: readyBody, 503: readyBody } },
      logLevel: 'warn',
      config,
    },
    async (_request, reply) => {
      const store = await stores.ping().then(
        () => 'ok' as const,
        () => 'fail' as const,
      );
      const keys = keysLoaded() ? ('ok' as const) : ('fail' as const);
      const ready = store === 'ok' && keys === 'ok';
      reply.code(ready ? 200 : 503).header('cache-control', 'no-store');
      if (!ready) reply.header('retry-after', '1');
      const archive =
        archiveLag === undefined ? undefined : { chains: archiveLag().map((l) => ({ ...l, lagSeconds: Math.round(l.lagSeconds * 1000) / 1000 })) };
      return { status: ready ? ('ok' as const) : ('unavailable' as const), checks: { store, keys }, ...(archive !== undefined && { archive }) };
    },
  );
};
