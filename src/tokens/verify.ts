/**
 * Verifies an operation token on the /forward hot path with node:crypto
 * directly, the mirror of mintOperationToken (tokens/mint.ts):
 * jose's WebCrypto path costs several times the signature check itself.
 *
 * Only the vault's own tokens pass: compact JWS (RFC 7515 §7.1) with strict
 * base64url parts, `typ: at+jwt` (RFC 9068 §2.1), an `alg` from the
 * allowlist that equals the alg of the key its `kid` names (active, previous
 * or retiring: SigningKeys.get), no `crit` (RFC 7515 §4.1.11: none is
 * understood), the vault as `iss`, and `exp` in the future (RFC 7519 §4.1.4).
 */
import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { SigningKey, SigningKeys } from '../crypto/signing-keys.js';

export interface VerifiedOperationToken {
  jti: string;
  sub: string;
  aud: string;
  exp: number;
  /** `cnf.x5t#S256`, when present. */
  x5t?: string;
}

export class OperationTokenRejected extends Error {
  override name = 'OperationTokenRejected';
  readonly code = 'TV_OPERATION_TOKEN_REJECTED';
}

const PART = /^[A-Za-z0-9_-]+$/;
const publicKeys = new WeakMap<SigningKey, KeyObject>();

function publicKeyOf(key: SigningKey): KeyObject {
  let pub = publicKeys.get(key);
  if (!pub) {
    pub = createPublicKey({ key: { ...key.publicJwk } as JsonWebKey, format: 'jwk' });
    publicKeys.set(key, pub);
  }
  return pub;
}

function json(part: string): Record<string, unknown> {
  const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new OperationTokenRejected('not a JSON object');
  return value as Record<string, unknown>;
}

const reject = (why: string): never => {
  throw new OperationTokenRejected(why);
};

export function verifyOperationToken(token: string, keys: SigningKeys, issuer: string, nowSeconds = Date.now() / 1000): VerifiedOperationToken {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => PART.test(p))) reject('not a compact JWS');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  let header: Record<string, unknown>;
  try {
    header = json(headerPart);
  } catch {
    return reject('malformed header');
  }
  if (header.typ !== 'at+jwt' || 'crit' in header || typeof header.kid !== 'string') reject('header refused');
  const key = keys.get(header.kid as string);
  if (!key || key.alg !== header.alg) reject('unknown key or algorithm');
  const input = Buffer.from(`${headerPart}.${payloadPart}`, 'latin1');
  const signature = Buffer.from(signaturePart, 'base64url');
  const pub = publicKeyOf(key!);
  const valid =
    key!.alg === 'EdDSA'
      ? verify(null, input, pub, signature)
      : signature.length === 64 && verify('sha256', input, { key: pub, dsaEncoding: 'ieee-p1363' }, signature);
  if (!valid) reject('bad signature');
  let claims: Record<string, unknown>;
  try {
    claims = json(payloadPart);
  } catch {
    return reject('malformed payload');
  }
  const { iss, jti, sub, aud, exp, cnf } = claims;
  if (iss !== issuer) reject('other issuer');
  if (typeof jti !== 'string' || typeof sub !== 'string' || typeof aud !== 'string' || typeof exp !== 'number') reject('missing claims');
  if ((exp as number) <= nowSeconds) reject('expired');
  const x5t = typeof cnf === 'object' && cnf !== null ? (cnf as Record<string, unknown>)['x5t#S256'] : undefined;
  return { jti: jti as string, sub: sub as string, aud: aud as string, exp: exp as number, ...(typeof x5t === 'string' ? { x5t } : {}) };
}
