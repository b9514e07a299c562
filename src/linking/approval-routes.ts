/**
 * `/approvals` on the consent pages: the signed-in user's requests awaiting approval, and the
 * decision on one (POST with the session and its CSRF token, answered 303). The decision is the
 * approval service's (src/approvals/approval-service.ts): audited with the user, atomic, and
 * only the first of two lands.
 */
import type { FastifyPluginAsync, preHandlerHookHandler } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Approvals } from '../approvals/approval-service.js';
import type { ProviderCatalog } from '../providers/catalog.js';
import { pageErrors } from './pages/page-error.js';
import { APPROVAL_RESULTS, approvalsPage, type ApprovalResult } from './pages/approvals-view.js';

export interface ApprovalPageOptions {
  approvals: Approvals;
  catalog: ProviderCatalog;
  requireCsrf: preHandlerHookHandler[];
}

const params = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), decision: z.enum(['approve', 'deny']) });
const body = z.object({ _csrf: z.string().max(256).optional() });
const query = z.object({ result: z.enum(Object.keys(APPROVAL_RESULTS) as [ApprovalResult, ...ApprovalResult[]]).optional() });

export const approvalPages: FastifyPluginAsync<ApprovalPageOptions> = async (app, { approvals, catalog, requireCsrf }) => {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get('/approvals', { schema: { hide: true, querystring: query } }, async (request, reply) => {
    if (!request.session) return reply.redirect(`/login?${new URLSearchParams({ returnTo: '/approvals' })}`, 303);
    const pending = await approvals.pendingForUser(request.session.userId);
    const items = pending.map(({ record }) => ({ record, agent: catalog.agent(record.agent), operation: catalog.operation(record.operation) }));
    const viewer = { displayName: request.session.displayName, csrfToken: reply.generateCsrf() };
    return reply.type('text/html; charset=utf-8').send(approvalsPage(viewer, items, Date.now(), request.query.result));
  });

  routes.post('/approvals/:id/:decision', { schema: { hide: true, params, body }, preHandler: requireCsrf }, async (request, reply) => {
    if (!request.session) throw pageErrors.signInRequired();
    const { id, decision } = request.params;
    const by = { role: 'user', id: request.session.userId } as const;
    const outcome = await approvals.decide(id, decision === 'approve' ? 'approved' : 'denied', by, request.id);
    const result: ApprovalResult = outcome === 'decided' ? (decision === 'approve' ? 'approved' : 'denied') : outcome;
    return reply.redirect(`/approvals?result=${result}`, 303);
  });
};
