/**
 * `/admin/grants`: list and search grants (never a secret field), revoke one,
 * revoke in bulk by user, agent or provider. Revocation reuses the
 * linking service's path: unusable at once, RFC 7009 upstream (retry queue on
 * failure), then deleted with its wrapped data key; its tombstone (who, when,
 * why, by whom) stays listable for the retention window.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditWriter } from '../audit/events.js';
import { NotFound } from '../errors.js';
import { listGrantsAndTombstones, type ListedGrant } from '../grants/listing.js';
import type { GrantRetirement } from '../grants/retire.js';
import { GRANT_STATUSES, type Grant, type GrantFilter, type GrantTombstone } from '../store/grant-store.js';
import type { Stores } from '../store/stores.js';
import { adminAuditFields } from './audit-context.js';
import { adminErrors, errorBody, pageCursor, targetId } from './schemas.js';

export interface GrantRoutesOptions {
  stores: Stores;
  retirement: GrantRetirement;
  audit: AuditWriter;
}

const status = z.enum(GRANT_STATUSES);
const grantView = z.object({
  id: z.string(),
  user: z.string(),
  provider: z.string(),
  upstreamSubject: z.string(),
  instanceUrl: z.string().optional(),
  scopes: z.array(z.string()),
  status,
  consent: z.record(z.string(), z.array(z.string())),
  version: z.number().int(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
});
/** A retired grant, kept for the retention window (config `grants.tombstoneRetentionDays`). */
const tombstoneView = z.object({
  id: z.string(),
  user: z.string(),
  provider: z.string(),
  upstreamSubject: z.string(),
  status: z.literal('revoked'),
  tombstone: z.literal(true),
  revokedAt: z.number().int(),
  reason: z.string(),
  revokedBy: z.string(),
  revokedByRole: z.enum(['user', 'admin']),
});
const listQuery = z.strictObject({
  user: targetId.optional(),
  agent: targetId.optional(),
  provider: targetId.optional(),
  status: status.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: pageCursor.optional(),
});
const reason = z.string().trim().min(1).max(256);
const bulkBody = z
  .strictObject({ user: targetId.optional(), agent: targetId.optional(), provider: targetId.optional(), reason })
  .refine((b) => [b.user, b.agent, b.provider].filter((v) => v !== undefined).length === 1, 'exactly one of user, agent, provider');

/** The public view of a grant: every field but the refresh-token ciphertext. */
function view(grant: Grant): z.infer<typeof grantView> {
  return {
    id: grant.id,
    user: grant.userId,
    provider: grant.provider,
    upstreamSubject: grant.upstreamSubject,
    ...(grant.instanceUrl !== undefined && { instanceUrl: grant.instanceUrl }),
    scopes: grant.scopes,
    status: grant.status,
    consent: grant.consent,
    version: grant.version,
    createdAt: grant.createdAt,
    updatedAt: grant.updatedAt,
  };
}

function tombstoneOf(t: GrantTombstone): z.infer<typeof tombstoneView> {
  return {
    id: t.grantId,
    user: t.userId,
    provider: t.provider,
    upstreamSubject: t.upstreamSubject,
    status: 'revoked',
    tombstone: true,
    revokedAt: t.revokedAt,
    reason: t.reason,
    revokedBy: t.revokedBy,
    revokedByRole: t.revokedByRole,
  };
}

const listed = (entry: ListedGrant) => (entry.grant !== undefined ? view(entry.grant) : tombstoneOf(entry.tombstone));

const PAGE = 100;

export const grantRoutes: FastifyPluginAsync<GrantRoutesOptions> = async (app, { stores, retirement, audit }) => {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get(
    '/grants',
    {
      schema: {
        summary: 'List and search grants and the tombstones of retired ones (no secret fields)',
        tags: ['admin'],
        querystring: listQuery,
        response: { 200: z.object({ items: z.array(z.union([grantView, tombstoneView])), next: z.string().optional() }), ...adminErrors },
      },
    },
    async (request) => {
      const { user, agent, provider, status: st, limit, cursor } = request.query;
      const filter: GrantFilter = {
        ...(user !== undefined && { userId: user }),
        ...(agent !== undefined && { agent }),
        ...(provider !== undefined && { provider }),
        ...(st !== undefined && { status: st }),
      };
      const page = await listGrantsAndTombstones(stores.grants, filter, limit, cursor);
      return { items: page.items.map(listed), ...(page.next !== undefined && { next: page.next }) };
    },
  );

  routes.post(
    '/grants/:id/revoke',
    {
      schema: {
        summary: 'Revoke one grant (already revoked answers the same; an id neither live nor tombstoned is 404)',
        tags: ['admin'],
        params: z.strictObject({ id: targetId }),
        body: z.strictObject({ reason }),
        response: { 200: z.object({ revoked: z.literal(true) }), ...adminErrors, 404: errorBody },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { reason: why } = request.body;
      const [grant, tombstone] = await Promise.all([stores.grants.get(id), stores.grants.getTombstone(id)]);
      const live = grant !== null && grant.status !== 'revoked';
      const known = grant ?? tombstone;
      await audit.record({
        action: 'grant.revoke',
        decision: known === null ? 'deny' : 'allow',
        reason: why,
        ...adminAuditFields(request),
        grant: id,
        ...(known !== null && { user: known.userId, provider: known.provider }),
        details: { found: live },
      });
      // An incident responder must learn that an id matched nothing, not be told it is revoked.
      if (known === null) throw new NotFound('no such grant');
      if (live) await retirement.retire({ userId: request.admin.id, requestId: request.id, role: 'admin' }, grant, why);
      return { revoked: true as const };
    },
  );

  routes.post(
    '/grants/revoke',
    {
      schema: {
        summary: 'Revoke every grant of one user, agent or provider, with a report',
        tags: ['admin'],
        body: bulkBody,
        response: {
          200: z.object({ revoked: z.number().int(), upstream_revoked: z.number().int(), upstream_failed: z.number().int() }),
          ...adminErrors,
        },
      },
    },
    async (request) => {
      const { user, agent, provider, reason: why } = request.body;
      const filter: GrantFilter = {
        ...(user !== undefined && { userId: user }),
        ...(agent !== undefined && { agent }),
        ...(provider !== undefined && { provider }),
      };
      const targets: Grant[] = [];
      let cursor: string | undefined;
      do {
        const page = await stores.grants.list(filter, PAGE, cursor);
        targets.push(...page.items.filter((g) => g.status !== 'revoked'));
        cursor = page.next;
      } while (cursor !== undefined);
      await audit.record({
        action: 'grant.revoke',
        decision: 'allow',
        reason: why,
        ...adminAuditFields(request),
        ...(user !== undefined && { user }),
        ...(agent !== undefined && { agent }),
        ...(provider !== undefined && { provider }),
        details: { bulk: true, grants: targets.length },
      });
      const report = { revoked: 0, upstream_revoked: 0, upstream_failed: 0 };
      const actor = { userId: request.admin.id, requestId: request.id, role: 'admin' as const };
      for (const grant of targets) {
        await audit.record({
          action: 'grant.revoke',
          decision: 'allow',
          reason: why,
          ...adminAuditFields(request),
          grant: grant.id,
          user: grant.userId,
          provider: grant.provider,
          details: { found: true },
        });
        const outcome = await retirement.retire(actor, grant, why);
        report.revoked += 1;
        if (outcome === 'revoked') report.upstream_revoked += 1;
        else if (outcome === 'pending') report.upstream_failed += 1;
      }
      return report;
    },
  );
};
