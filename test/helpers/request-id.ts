/**
 * Every error body carries `request_id`, equal to the `x-request-id` header of the same answer
 * (src/http/error-handler.ts): `withRequestId(res, body)` is the whole body a test expects.
 */
interface Answer {
  headers: Record<string, string | string[] | number | undefined>;
}

export function requestIdOf(res: Answer): string {
  const id = res.headers['x-request-id'];
  if (typeof id !== 'string' || id === '') throw new Error('answer without an x-request-id header');
  return id;
}

export function withRequestId<T extends object>(res: Answer, body: T): T & { request_id: string } {
  return { ...body, request_id: requestIdOf(res) };
}
