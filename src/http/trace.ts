/** W3C Trace Context: the trace id of a `traceparent` header, for audit correlation. */
import type { FastifyRequest } from 'fastify';
import { requestTraceId } from '../tracing/span.js';

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

export function traceIdOf(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const id = TRACEPARENT.exec(header.trim())?.[1];
  // An all-zero trace id is invalid (W3C Trace Context §3.2.2.3).
  return id && !/^0+$/.test(id) ? id : undefined;
}

/**
 * The trace id an audit record of this request carries: the request span's when tracing is on
 * (it continues the caller's `traceparent`, or starts a trace), else the caller's `traceparent`.
 */
export function auditTraceId(request: FastifyRequest): string | undefined {
  return requestTraceId(request) ?? traceIdOf(request.headers.traceparent);
}
