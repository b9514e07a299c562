import type { FastifyRequest } from 'fastify';
import type { AuditEventInput } from '../audit/events.js';

/** W3C Trace Context `traceparent` (§3.2): version-traceid-parentid-flags; all-zero ids are invalid. */
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The fields every admin audit record carries: who acted, on which request and trace. */
export function adminAuditFields(request: FastifyRequest): Pick<AuditEventInput, 'actor' | 'requestId' | 'traceId'> {
  const header = request.headers.traceparent;
  const traceId = typeof header === 'string' ? TRACEPARENT.exec(header.trim())?.[1] : undefined;
  return {
    actor: request.admin.id,
    requestId: request.id,
    ...(traceId !== undefined && !/^0+$/.test(traceId) && { traceId }),
  };
}
