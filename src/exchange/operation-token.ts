/**
 * Operation tokens: RFC 9068 JWT access tokens (`typ: at+jwt`) for exactly one
 * operation, bound to the gateway certificate (RFC 8705 §3 `cnf.x5t#S256`),
 * on behalf of the user (`sub`) by the agent (`act`, RFC 8693 §4.1).
 *
 * Signed with node:crypto directly (RFC 7515 compact serialization): on the
 * exchange hot path WebCrypto's asynchronous job costs several times the
 * signature itself. Tests verify the result with jose against the JWKS.
 */
import { KeyObject, randomBytes, sign } from 'node:crypto';
import type { SigningKey, SigningKeys } from '../crypto/signing-keys.js';
import type { AuthorizationDetail } from './request.js';

export interface OperationTokenClaims {
  issuer: string;
  userId: string;
  agent: string;
  provider: string;
  operation: string;
  /** Echoed when the operation was requested as RFC 9396 details. */
  detail?: AuthorizationDetail;
  gateway: string;
  certThumbprint: string;
  /** Epoch seconds. */
  issuedAt: number;
  expiresAt: number;
}

export interface MintedToken {
  token: string;
  jti: string;
}

export const newJti = () => randomBytes(16).toString('base64url');

interface PreparedKey {
  key: SigningKey;
  keyObject: KeyObject;
  /** base64url of the protected header, the same for every token of this key. */
  header: string;
}

const prepared = new WeakMap<SigningKey, PreparedKey>();

function prepare(key: SigningKey): PreparedKey {
  let p = prepared.get(key);
  if (!p) {
    const header = Buffer.from(JSON.stringify({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })).toString('base64url');
    p = { key, keyObject: KeyObject.from(key.privateKey), header };
    prepared.set(key, p);
  }
  return p;
}

export function mintOperationToken(keys: SigningKeys, claims: OperationTokenClaims): MintedToken {
  const jti = newJti();
  const { key, keyObject, header } = prepare(keys.active);
  const payload = {
    iss: claims.issuer,
    sub: claims.userId,
    aud: claims.provider,
    jti,
    iat: claims.issuedAt,
    exp: claims.expiresAt,
    scope: claims.operation,
    ...(claims.detail ? { authorization_details: [claims.detail] } : {}),
    act: { sub: claims.agent },
    cnf: { 'x5t#S256': claims.certThumbprint },
    client_id: claims.gateway,
  };
  const input = `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  // EdDSA: Ed25519 over the input (RFC 8037 §3.1); ES256: r||s, not DER (RFC 7518 §3.4).
  const signature =
    key.alg === 'EdDSA' ? sign(null, Buffer.from(input), keyObject) : sign('sha256', Buffer.from(input), { key: keyObject, dsaEncoding: 'ieee-p1363' });
  return { token: `${input}.${signature.toString('base64url')}`, jti };
}
