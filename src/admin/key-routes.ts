/**
 * `/admin/keys`: key status, KEK rewrap batches, and reloading key material
 * from the keys directory (new `kek-N` / `signing-N` files become active).
 * Every change is audited.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditWriter } from '../audit/events.js';
import { KeyMaterialError } from '../crypto/key-files.js';
import { ServerError, TemporarilyUnavailable } from '../errors.js';
import { adminAuditFields } from './audit-context.js';
import { KeysSealedError, type KeyCustodian } from '../crypto/key-custodian.js';
import { RewrapBusyError, type RewrapRuns } from '../grants/rewrap-runs.js';
import { adminErrors, errorBody } from './schemas.js';

export interface KeyRoutesOptions {
  custodian: KeyCustodian;
  rewrap: RewrapRuns;
  audit: AuditWriter;
}

const keyStatus = z.object({
  sealed: z.boolean(),
  kek: z.object({ ids: z.array(z.string()), active: z.string().nullable() }),
  signing: z.object({ active: z.string(), previous: z.array(z.string()) }),
});
const rewrapState = z.object({
  activeKeyId: z.string(),
  done: z.boolean(),
  cursor: z.string().optional(),
  scanned: z.number().int(),
  rewrapped: z.number().int(),
  alreadyActive: z.number().int(),
  raced: z.number().int(),
  failed: z.array(z.object({ grantId: z.string(), reason: z.enum(['cannot_open', 'unknown_key', 'malformed']) })),
  startedAt: z.string(),
  updatedAt: z.string(),
});
const rewrapBody = z.strictObject({
  pageSize: z.number().int().min(1).max(1000).default(200),
  maxPages: z.number().int().min(1).max(100).default(5),
  restart: z.boolean().default(false),
});

const sealed = () => new TemporarilyUnavailable('keys sealed by the global kill switch', 5);

export const keyRoutes: FastifyPluginAsync<KeyRoutesOptions> = async (app, { custodian, rewrap, audit }) => {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get(
    '/keys',
    {
      schema: {
        summary: 'KEK ids and the active one, signing key ids, and the rewrap run',
        tags: ['admin'],
        response: { 200: keyStatus.extend({ rewrap: rewrapState.nullable() }), ...adminErrors },
      },
    },
    async () => ({ ...custodian.status(), rewrap: await rewrap.status() }),
  );

  routes.post(
    '/keys/rewrap',
    {
      schema: {
        summary: 'Run one batch of the KEK rewrap job (resumes the current run); reports records it cannot open',
        tags: ['admin'],
        body: rewrapBody.nullish(),
        response: { 200: rewrapState, ...adminErrors },
      },
    },
    async (request) => {
      if (custodian.status().sealed) throw sealed();
      let state;
      try {
        state = await rewrap.batch(request.body ?? rewrapBody.parse({}));
      } catch (err) {
        if (err instanceof RewrapBusyError) throw new TemporarilyUnavailable(err.message, 5);
        throw err;
      }
      const fields = adminAuditFields(request);
      await audit.record({
        action: 'key.rewrap',
        decision: 'allow',
        ...fields,
        details: { activeKeyId: state.activeKeyId, done: state.done, scanned: state.scanned, rewrapped: state.rewrapped, failed: state.failed.length },
      });
      return state;
    },
  );

  routes.post(
    '/keys/reload',
    {
      schema: {
        summary: 'Reload key material from the keys directory: the highest kek-N and signing-N become active',
        tags: ['admin'],
        response: { 200: keyStatus, 500: errorBody, ...adminErrors },
      },
    },
    async (request) => {
      const fields = adminAuditFields(request);
      let status;
      try {
        status = await custodian.reload();
      } catch (err) {
        if (err instanceof KeysSealedError) throw sealed();
        if (!(err instanceof KeyMaterialError)) throw err;
        await audit.record({ action: 'key.rotate', decision: 'error', reason: 'key material rejected', ...fields, details: { problems: err.problems.length } });
        throw new ServerError(`key reload: ${err.problems.join('; ')}`);
      }
      await audit.record({
        action: 'key.rotate',
        decision: 'allow',
        ...fields,
        details: { kekActive: status.kek.active ?? '', kekIds: status.kek.ids.join(','), signingActive: status.signing.active },
      });
      return status;
    },
  );
};
