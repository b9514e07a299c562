/**
 * Certificate thumbprints and constant-time comparison.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The `x5t#S256` confirmation value of a certificate: base64url of the SHA-256
 * of its DER encoding (RFC 8705 §3.1). Not a JWK thumbprint (RFC 7638).
 */
export function x5tS256(derCert: Uint8Array): string {
  return createHash('sha256').update(derCert).digest('base64url');
}

/**
 * Compares two strings in time independent of where they differ. Both sides
 * are hashed first so unequal lengths neither throw nor leak the length.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a, 'utf8').digest();
  const right = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(left, right);
}
