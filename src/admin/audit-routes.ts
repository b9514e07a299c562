/**
 * `/admin/audit`: query (filters + paging), chain verification with the
 * latest checkpoint, and a JSON-lines export of the stored chain that an
 * auditor holding the audit key can verify offline.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { verifyChain, type AuditWriter, type Checkpointer } from '../audit/index.js';
import { AUDIT_ACTIONS, AUDIT_DECISIONS } from '../audit/events.js';
import { InvalidRequest } from '../errors.js';
import type { AuditStore } from '../store/audit-store.js';
import { adminAuditFields } from './audit-context.js';
import { queryAudit } from './audit-query.js';
import { adminErrors, targetId } from './schemas.js';

export interface AuditRoutesOptions {
  store: AuditStore;
  audit: AuditWriter;
  checkpointer: Checkpointer;
  hmacKey: Uint8Array;
}

const decision = z.enum(AUDIT_DECISIONS);
const seqCursor = z.string().regex(/^[1-9][0-9]{0,15}$/, 'cursor');

const query = z.strictObject({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  agent: targetId.optional(),
  user: targetId.optional(),
  provider: targetId.optional(),
  gateway: targetId.optional(),
  grant: targetId.optional(),
  actor: targetId.optional(),
  decision: decision.optional(),
  action: z.enum(AUDIT_ACTIONS).optional(),
  traceId: z
    .string()
    .regex(/^[0-9a-f]{32}$/)
    .optional(),
  cursor: seqCursor.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const auditRecord = z.object({
  seq: z.number().int(),
  time: z.string(),
  action: z.string(),
  decision: z.string(),
  reason: z.string().optional(),
  requestId: z.string().optional(),
  traceId: z.string().optional(),
  gateway: z.string().optional(),
  agent: z.string().optional(),
  user: z.string().optional(),
  provider: z.string().optional(),
  grant: z.string().optional(),
  operation: z.string().optional(),
  actor: z.string().optional(),
  jti: z.string().optional(),
  tokenHmac: z.string().optional(),
  details: z.record(z.string(), scalar).optional(),
});
const checkpoint = z.object({ seq: z.number().int(), hash: z.string(), time: z.string(), mac: z.string() });
const head = z.object({ seq: z.number().int(), hash: z.string() });
const verifyReport = z.object({
  ok: z.boolean(),
  records: z.number().int(),
  head: head.optional(),
  firstBroken: z.object({ seq: z.number().int(), reason: z.string() }).optional(),
  checkpoint: checkpoint.nullable(),
  /** Verified records after the checkpoint (all of them when there is none): what a truncation could still erase unnoticed. */
  afterCheckpoint: z.number().int().min(0),
});

const EXPORT_PAGE = 1000;

export const auditRoutes: FastifyPluginAsync<AuditRoutesOptions> = async (app, { store, audit, checkpointer, hmacKey }) => {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get(
    '/audit',
    {
      schema: {
        summary: 'Audit records, newest first, with filters and paging',
        tags: ['admin'],
        querystring: query,
        response: { 200: z.object({ items: z.array(auditRecord), next: z.string().optional() }), ...adminErrors },
      },
    },
    async (request) => {
      const { from, to, cursor, limit, ...fields } = request.query;
      const fromMs = from === undefined ? undefined : Date.parse(from);
      const toMs = to === undefined ? undefined : Date.parse(to);
      if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) throw new InvalidRequest('from after to');
      const filter = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
      return queryAudit(
        store,
        { ...filter, ...(fromMs !== undefined && { from: fromMs }), ...(toMs !== undefined && { to: toMs }) },
        limit,
        cursor === undefined ? undefined : Number(cursor),
      );
    },
  );

  routes.get(
    '/audit/verify',
    {
      schema: {
        summary:
          'Walk the hash chain; report the first broken record (truncation checked against the latest checkpoint), the checkpoint and how many records follow it',
        tags: ['admin'],
        response: { 200: verifyReport, ...adminErrors },
      },
    },
    async (request) => {
      const latest = await checkpointer.newest();
      const report = await verifyChain(store, hmacKey, latest === undefined ? {} : { checkpoint: latest });
      // Best effort, unlike every other admin action: a chain tampered with can make appends fail
      // (e.g. an entry inserted at the head's next id), and that is exactly when the report is needed.
      await audit
        .record({
          action: 'admin.action',
          decision: 'allow',
          reason: 'audit.verify',
          ...adminAuditFields(request),
          details: {
            ok: report.ok,
            records: report.records,
            ...(report.firstBroken && { brokenSeq: report.firstBroken.seq, brokenReason: report.firstBroken.reason }),
          },
        })
        .catch((err: unknown) => request.log.error({ err: { type: err instanceof Error ? err.name : 'unknown' } }, 'audit of a chain verification failed'));
      return { ...report, checkpoint: latest ?? null, afterCheckpoint: report.afterCheckpoint ?? report.records };
    },
  );

  routes.get(
    '/audit/export',
    {
      schema: {
        summary: 'The stored chain as JSON lines ({seq, prev, hash, body}), oldest first, streamed',
        tags: ['admin'],
        querystring: z.strictObject({ fromSeq: seqCursor.optional() }),
        produces: ['application/x-ndjson'],
        response: { 200: z.string().describe('One JSON object per line: {seq, prev, hash, body}'), ...adminErrors },
      },
    },
    async (request, reply) => {
      const fromSeq = Number(request.query.fromSeq ?? 1);
      // Who took a copy of the trail is itself on the trail, before the first byte leaves.
      await audit.record({ action: 'admin.action', decision: 'allow', reason: 'audit.export', ...adminAuditFields(request), details: { fromSeq } });
      async function* lines(): AsyncGenerator<string> {
        let next = fromSeq;
        for (;;) {
          const page = await store.range(next, EXPORT_PAGE);
          for (const entry of page) yield `${JSON.stringify(entry)}\n`;
          const last = page[page.length - 1];
          if (page.length < EXPORT_PAGE || last === undefined) return;
          next = last.seq + 1;
        }
      }
      return reply
        .type('application/x-ndjson')
        .header('cache-control', 'no-store')
        .send(Readable.from(lines()) as never); // streams bypass the (error-only) response schema
    },
  );
};
