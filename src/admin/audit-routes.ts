/**
 * `/admin/audit`: query (filters + paging across the chains), verification of
 * every chain with its latest checkpoint, and a JSON-lines export of the
 * stored chains that an auditor holding the audit key can verify offline.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { verifyTrail, type AuditWriter, type Checkpointer } from '../audit/index.js';
import { AUDIT_ACTIONS, AUDIT_DECISIONS } from '../audit/events.js';
import { InvalidRequest } from '../errors.js';
import type { AuditStore } from '../store/audit-store.js';
import { adminAuditFields } from './audit-context.js';
import { CURSOR, parseCursor, queryAudit } from './audit-query.js';
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
  cursor: z.string().max(17_500).regex(CURSOR, 'cursor').optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const auditRecord = z.object({
  chain: z.number().int(),
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
const checkpoint = z.object({ chain: z.number().int(), seq: z.number().int(), hash: z.string(), time: z.string(), mac: z.string() });
const head = z.object({ seq: z.number().int(), hash: z.string() });
const chainReport = z.object({
  chain: z.number().int(),
  ok: z.boolean(),
  records: z.number().int(),
  head: head.optional(),
  /** The last entry trimmed by retention (after archiving); verification starts after it. */
  floor: head.optional(),
  firstBroken: z.object({ seq: z.number().int(), reason: z.string() }).optional(),
  checkpoint: checkpoint.nullable(),
  /** Verified records after the checkpoint (all of them when there is none): what a truncation could still erase unnoticed. */
  afterCheckpoint: z.number().int().min(0),
});
const verifyReport = z.object({ ok: z.boolean(), records: z.number().int(), chains: z.array(chainReport) });

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
      const positions = cursor === undefined ? undefined : parseCursor(cursor, store.chains);
      if (cursor !== undefined && positions === undefined) throw new InvalidRequest('cursor of another trail');
      const filter = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
      return queryAudit(store, { ...filter, ...(fromMs !== undefined && { from: fromMs }), ...(toMs !== undefined && { to: toMs }) }, limit, positions);
    },
  );

  routes.get(
    '/audit/verify',
    {
      schema: {
        summary:
          'Walk every hash chain; report per chain the first broken record (truncation checked against its latest checkpoint), the checkpoint and how many records follow it',
        tags: ['admin'],
        response: { 200: verifyReport, ...adminErrors },
      },
    },
    async (request) => {
      const latest = await checkpointer.newest();
      const report = await verifyTrail(store, hmacKey, { checkpoints: latest });
      const broken = report.chains.find((c) => !c.ok);
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
            ...(broken?.firstBroken && { brokenChain: broken.chain, brokenSeq: broken.firstBroken.seq, brokenReason: broken.firstBroken.reason }),
          },
        })
        .catch((err: unknown) => request.log.error({ err: { type: err instanceof Error ? err.name : 'unknown' } }, 'audit of a chain verification failed'));
      return {
        ...report,
        chains: report.chains.map((c) => ({ ...c, checkpoint: latest[c.chain] ?? null, afterCheckpoint: c.afterCheckpoint ?? c.records })),
      };
    },
  );

  routes.get(
    '/audit/export',
    {
      schema: {
        summary: 'The stored chains as JSON lines ({chain, seq, prev, hash, time, body}), chain by chain, oldest first, streamed',
        tags: ['admin'],
        querystring: z.strictObject({ chain: z.coerce.number().int().min(0).max(1023).optional(), fromSeq: seqCursor.optional() }),
        produces: ['application/x-ndjson'],
        response: { 200: z.string().describe('One JSON object per line: {chain, seq, prev, hash, time, body}'), ...adminErrors },
      },
    },
    async (request, reply) => {
      const { chain } = request.query;
      if (chain !== undefined && chain >= store.chains) throw new InvalidRequest('no such chain');
      if (chain === undefined && request.query.fromSeq !== undefined) throw new InvalidRequest('fromSeq needs a chain');
      const fromSeq = Number(request.query.fromSeq ?? 1);
      // Who took a copy of the trail is itself on the trail, before the first byte leaves.
      await audit.record({
        action: 'admin.action',
        decision: 'allow',
        reason: 'audit.export',
        ...adminAuditFields(request),
        details: { fromSeq, ...(chain !== undefined && { chain }) },
      });
      const chains = chain === undefined ? Array.from({ length: store.chains }, (_, c) => c) : [chain];
      async function* lines(): AsyncGenerator<string> {
        for (const c of chains) {
          for (let next = fromSeq; ;) {
            const page = await store.range(c, next, EXPORT_PAGE);
            for (const entry of page) yield `${JSON.stringify(entry)}\n`;
            const last = page[page.length - 1];
            if (page.length < EXPORT_PAGE || last === undefined) break;
            next = last.seq + 1;
          }
        }
      }
      return reply
        .type('application/x-ndjson')
        .header('cache-control', 'no-store')
        .send(Readable.from(lines()) as never); // streams bypass the (error-only) response schema
    },
  );
};
