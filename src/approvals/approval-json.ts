/** An approval request as the admin API and the CLI show it: ids, the exact action, times; never the auth_req_id. */
import { z } from 'zod';
import type { ApprovalView } from '../store/approval-store.js';

export const approvalJson = z.object({
  id: z.string(),
  status: z.enum(['pending', 'approved', 'denied', 'consumed', 'expired']),
  approver: z.enum(['user', 'admin']),
  gateway: z.string(),
  agent: z.string(),
  user: z.string(),
  grant: z.string(),
  operation: z.string(),
  method: z.string(),
  path: z.string(),
  body_sha256: z.string(),
  summary: z.string().optional(),
  created_at: z.string(),
  expires_at: z.string(),
  decided_by: z.string().optional(),
});

export type ApprovalJson = z.infer<typeof approvalJson>;

export function toApprovalJson({ record: r, status, decidedBy }: ApprovalView): ApprovalJson {
  return {
    id: r.id,
    status,
    approver: r.approver,
    gateway: r.gateway,
    agent: r.agent,
    user: r.userId,
    grant: r.grantId,
    operation: r.operation,
    method: r.method,
    path: r.path,
    body_sha256: r.bodySha256,
    ...(r.summary !== undefined && { summary: r.summary }),
    created_at: new Date(r.createdAt).toISOString(),
    expires_at: new Date(r.expiresAt).toISOString(),
    ...(decidedBy !== undefined && { decided_by: decidedBy }),
  };
}
