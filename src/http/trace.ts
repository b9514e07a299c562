/** W3C Trace Context: the trace id of a `traceparent` header, for audit correlation. */
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

export function traceIdOf(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const id = TRACEPARENT.exec(header.trim())?.[1];
  // An all-zero trace id is invalid (W3C Trace Context §3.2.2.3).
  return id && !/^0+$/.test(id) ? id : undefined;
}
