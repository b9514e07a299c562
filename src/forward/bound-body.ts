/**
 * The body of a request whose token is bound to one exact action (an approved one,
 * src/approvals/): read and hashed as it arrives, and released upstream only once its SHA-256
 * matches the digest the approver saw.
 *
 * Why the whole body is held back rather than streamed with a check at the end: a provider
 * may act on a request before its body ends (a streaming parser, a chunked import, an upload
 * stored as it comes), and cutting the connection before the last chunk does not undo what
 * it already did. So nothing of a bound request leaves before the digest is known to match;
 * memory stays bounded by `limits.forward.requestBodyBytes`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Readable } from 'node:stream';
import { InsufficientScope, PayloadTooLarge } from '../errors.js';

/** The body, whole (null when there is none), when its digest is `bodySha256` (base64url, RFC 4648 §5); refused otherwise. */
export async function boundBody(body: Readable | null, bodySha256: string, limit: number): Promise<Buffer | null> {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let size = 0;
  if (body !== null) {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new PayloadTooLarge('bound body above the forward limit');
      hash.update(chunk);
      chunks.push(chunk);
    }
  }
  const expected = Buffer.from(bodySha256, 'base64url');
  const actual = hash.digest();
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw new InsufficientScope('body differs from the approved action');
  return body === null ? null : Buffer.concat(chunks, size);
}
