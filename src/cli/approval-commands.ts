/**
 * `approvals list | approve <id> | deny <id>`: the admin approvals API (`/admin/approvals`) from
 * the CLI. An id is the SHA-256 of a request's auth_req_id, never the auth_req_id itself.
 */
import type { ApprovalJson } from '../approvals/approval-json.js';
import { callJson } from './admin-http.js';
import { print, UsageError, type Ctx } from './cli-context.js';
import { table } from './table.js';

export async function approvals(ctx: Ctx): Promise<number> {
  const [sub, id, ...extra] = ctx.args;
  if (sub === undefined || sub === 'list') {
    if (id !== undefined) throw new UsageError('approvals list takes no arguments');
    const res = await callJson<{ approvals: ApprovalJson[] }>(ctx.conn, 'GET', '/admin/approvals');
    return print(ctx, res, () =>
      res.approvals.length === 0
        ? 'no request awaits an admin approval'
        : table(
            ['id', 'agent', 'user', 'operation', 'request', 'expires'],
            res.approvals.map((a) => [a.id, a.agent, a.user, a.operation, `${a.method} ${a.path}`, a.expires_at]),
          ),
    );
  }
  if (sub !== 'approve' && sub !== 'deny') throw new UsageError('approvals: list, approve <id> or deny <id>');
  if (id === undefined || extra.length > 0) throw new UsageError(`approvals ${sub} takes one request id`);
  const res = await callJson<ApprovalJson>(ctx.conn, 'POST', `/admin/approvals/${encodeURIComponent(id)}/${sub}`);
  return print(ctx, res, () => `${res.id} ${res.status} by ${res.decided_by ?? 'unknown'}`);
}
