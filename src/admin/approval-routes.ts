/**
 * `/admin/approvals`: the requests awaiting an admin's approval (operations with
 * `approval: admin`), and the decision on one. A decision is audited with the admin's
 * identity before it is made (src/approvals/approval-service.ts); of two decisions on one
 * request only the first lands, the second is 409.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { approvalJson, toApprovalJson } from '../approvals/approval-json.js';
import type { Approvals } from '../approvals/approval-service.js';
import { ApprovalNotPending } from '../approvals/errors.js';
import { NotFound } from '../errors.js';
import { adminErrors, errorBody } from './schemas.js';

export interface ApprovalRoutesOptions {
  approvals: Approvals;
}

const params = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), decision: z.enum(['approve', 'deny']) });

export const approvalRoutes: FastifyPluginAsync<ApprovalRoutesOptions> = async (app, { approvals }) => {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get(
    '/approvals',
    {
      schema: {
        summary: 'Requests awaiting an admin approval, oldest first',
        tags: ['admin'],
        response: { 200: z.object({ approvals: z.array(approvalJson) }), ...adminErrors },
      },
    },
    async () => ({ approvals: (await approvals.pendingForAdmins()).map(toApprovalJson) }),
  );

  routes.post(
    '/approvals/:id/:decision',
    {
      schema: {
        summary: 'Approve or deny a request awaiting an admin approval',
        tags: ['admin'],
        params,
        response: { 200: approvalJson, 404: errorBody, 409: errorBody, ...adminErrors },
      },
    },
    async (request) => {
      const { id, decision } = request.params;
      const outcome = await approvals.decide(id, decision === 'approve' ? 'approved' : 'denied', { role: 'admin', id: request.admin.id }, request.id);
      if (outcome === 'unknown') throw new NotFound('no admin approval request with this id');
      if (outcome !== 'decided') throw new ApprovalNotPending(`approval request ${outcome}`);
      const view = await approvals.get(id);
      if (!view) throw new NotFound('approval request gone after its decision');
      return toApprovalJson(view);
    },
  );
};
