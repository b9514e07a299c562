/**
 * `grants` and `revoke`: the admin grants API (`/admin/grants`) from the CLI.
 * The API never returns a secret field, and nothing here prints more than it
 * returned; a revocation's reason is sent, never echoed back.
 */
import { callJson } from './admin-http.js';
import { positiveInt, print, UsageError, type Ctx } from './cli-context.js';
import { table } from './table.js';

/** The admin API's view of a grant (no refresh-token field exists in it), or of a retired grant's tombstone. */
interface GrantView {
  id: string;
  user: string;
  provider: string;
  upstreamSubject: string;
  instanceUrl?: string;
  scopes?: string[];
  status: string;
  consent?: Record<string, string[]>;
  version?: number;
  createdAt?: number;
  updatedAt?: number;
  /** Tombstones: when and by whom the grant was revoked. */
  revokedAt?: number;
  revokedBy?: string;
}

interface BulkReport {
  revoked: number;
  upstream_revoked: number;
  upstream_failed: number;
}

const STATUSES = ['active', 'consent_required', 'integrity_error', 'revoked'] as const;
const BULK_FILTERS = ['user', 'agent', 'provider'] as const;

function reason(ctx: Ctx): string {
  const why = ctx.values.reason?.trim();
  if (!why) throw new UsageError('--reason is required');
  return why;
}

export async function grants(ctx: Ctx): Promise<number> {
  if (ctx.args.length > 0) throw new UsageError('grants takes no arguments');
  const { user, agent, provider, status, cursor } = ctx.values;
  if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) {
    throw new UsageError(`--status must be one of ${STATUSES.join(', ')}`);
  }
  const limit = positiveInt('limit', ctx.values.limit);
  const qs = new URLSearchParams();
  for (const [name, value] of Object.entries({ user, agent, provider, status, cursor })) if (value !== undefined) qs.set(name, value);
  if (limit !== undefined) qs.set('limit', String(limit));
  const res = await callJson<{ items: GrantView[]; next?: string }>(ctx.conn, 'GET', `/admin/grants${qs.size > 0 ? `?${qs}` : ''}`);
  return print(ctx, res, () => {
    if (res.items.length === 0) return 'no grants match';
    const rows = res.items.map((g) => [
      g.id,
      g.user,
      g.provider,
      g.status,
      Object.keys(g.consent ?? {})
        .sort()
        .join(',') || (g.revokedBy !== undefined ? `revoked by ${g.revokedBy}` : undefined),
      new Date(g.updatedAt ?? g.revokedAt ?? 0).toISOString(),
    ]);
    const body = table(['id', 'user', 'provider', 'status', 'agents', 'updated'], rows);
    return res.next === undefined ? body : `${body}\nmore: --cursor ${res.next}`;
  });
}

/** `revoke <grant-id>` revokes one grant; `revoke --user|--agent|--provider <id>` revokes in bulk. */
export async function revoke(ctx: Ctx): Promise<number> {
  const filters = BULK_FILTERS.filter((f) => ctx.values[f] !== undefined);
  const [grantId, ...extra] = ctx.args;
  if (extra.length > 0) throw new UsageError('revoke takes one grant id');
  if (grantId !== undefined) {
    if (filters.length > 0) throw new UsageError('give a grant id or one of --user, --agent, --provider, not both');
    const why = reason(ctx);
    const res = await callJson<{ revoked: true }>(ctx.conn, 'POST', `/admin/grants/${encodeURIComponent(grantId)}/revoke`, { reason: why });
    // An already revoked grant gets the same answer; an unknown id is the API's 404 (exit 1).
    return print(ctx, res, () => `revoked grant ${grantId} (an already revoked grant gets the same answer)`);
  }
  if (filters.length !== 1) throw new UsageError('revoke needs a grant id or exactly one of --user, --agent, --provider');
  const filter = filters[0]!;
  const target = ctx.values[filter]!;
  const why = reason(ctx);
  const res = await callJson<BulkReport>(ctx.conn, 'POST', '/admin/grants/revoke', { [filter]: target, reason: why });
  return print(
    ctx,
    res,
    () =>
      `revoked every grant of ${filter} ${target}\n${table(['revoked', 'upstream revoked', 'upstream failed'], [[res.revoked, res.upstream_revoked, res.upstream_failed]])}` +
      (res.upstream_failed > 0 ? '\n(upstream revocations that failed are retried by the vault)' : ''),
  );
}
