/**
 * Operation tokens: RFC 9068 JWT access tokens (`typ: at+jwt`) for exactly one
 * operation, bound to the gateway certificate (RFC 8705 §3 `cnf.x5t#S256`),
 * on behalf of the user (`sub`) by the agent (`act`, RFC 8693 §4.1).
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { SigningKeys } from '../crypto/signing-keys.js';
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

export async function mintOperationToken(keys: SigningKeys, claims: OperationTokenClaims): Promise<MintedToken> {
  const jti = newJti();
  const { active } = keys;
  const token = await new SignJWT({
    scope: claims.operation,
    ...(claims.detail ? { authorization_details: [claims.detail] } : {}),
    act: { sub: claims.agent },
    cnf: { 'x5t#S256': claims.certThumbprint },
    client_id: claims.gateway,
  })
    .setProtectedHeader({ alg: active.alg, kid: active.kid, typ: 'at+jwt' })
    .setIssuer(claims.issuer)
    .setSubject(claims.userId)
    .setAudience(claims.provider)
    .setJti(jti)
    .setIssuedAt(claims.issuedAt)
    .setExpirationTime(claims.expiresAt)
    .sign(active.privateKey);
  return { token, jti };
}
