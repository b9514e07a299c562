/**
 * Audit before answer, failing closed, for routes whose every outcome is on
 * the trail (/exchange, /forward). A route records its refusals by setting
 * `config: { auditRefusal }`; the error handler (error-handler.ts) has that
 * record written before any refusal is answered, and answers 503 instead when
 * it cannot be. Successes go through `mustAudit` the same way.
 */
import type { FastifyRequest } from 'fastify';
import { AuditUnavailable, isErrorCode, type OAuthError } from '../errors.js';

/** What the trail says of a refusal: the vault's own failures are `error`, refusals `deny`. */
export interface RefusalOutcome {
  decision: 'deny' | 'error';
  /** The internal detail, or the OAuth error when there is none. */
  reason: string;
}

/** Writes the audit record of a refused request (with what the route knew when it refused). */
export type RefusalRecorder = (request: FastifyRequest, outcome: RefusalOutcome) => Promise<void>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on routes whose refusals are audited before they are answered. */
    auditRefusal?: RefusalRecorder;
  }
}

const AUDIT_FAILED = 'audit record could not be written';

/**
 * Runs an audit write that must land before anything is released: if it fails, the request fails
 * with AuditUnavailable (503) and whatever it would have released is not sent.
 */
export async function mustAudit(write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (err) {
    if (err instanceof AuditUnavailable) throw err;
    const code = (err as { code?: unknown } | null)?.code;
    throw new AuditUnavailable(isErrorCode(code) ? `${AUDIT_FAILED} (${code})` : AUDIT_FAILED);
  }
}

/**
 * The refusal to answer on this route: the same one once its audit record is written, AuditUnavailable
 * if that record cannot be. Null when the route records no refusals, or when the refusal is itself
 * a failed audit write (a second record would fail the same way).
 */
export function auditedRefusal(request: FastifyRequest, refusal: OAuthError): Promise<OAuthError> | null {
  const record = request.routeOptions.config?.auditRefusal;
  if (record === undefined || refusal.code === 'TV_AUDIT_UNAVAILABLE') return null;
  const outcome: RefusalOutcome = { decision: refusal.status >= 500 ? 'error' : 'deny', reason: refusal.detail || refusal.error };
  return mustAudit(() => record(request, outcome)).then(
    () => refusal,
    (failed: OAuthError) => failed,
  );
}
