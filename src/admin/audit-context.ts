import type { FastifyRequest } from 'fastify';
import type { AuditEventInput } from '../audit/events.js';
import { auditTraceId } from '../http/trace.js';

/**
 * The fields every admin audit record carries: who acted, on which request and trace (the
 * request span's trace when tracing is on, else the caller's `traceparent`: src/http/trace.ts).
 */
export function adminAuditFields(request: FastifyRequest): Pick<AuditEventInput, 'actor' | 'requestId' | 'traceId'> {
  const traceId = auditTraceId(request);
  return { actor: request.admin.id, requestId: request.id, ...(traceId !== undefined && { traceId }) };
}
