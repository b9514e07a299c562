/**
 * Operation tokens: RFC 9068 JWT access tokens (`typ: at+jwt`) for exactly one
 * operation, bound to the gateway certificate (RFC 8705 §3 `cnf.x5t#S256`),
 * on behalf of the user (`sub`) by the agent (`act`, RFC 8693 §4.1).
 *
 * Signed with node:crypto directly (RFC 7515 compact serialization): on the
 * exchange hot path WebCrypto's asynchronous job costs several times the
 * signature itself. Tests verify the result with jose against the JWKS.
 */
import { KeyObject, sign } from 'node:crypto';
import { pooledRandomId } from '../crypto/random-ids.js';
import type { SigningKey, SigningKeys } from '../crypto/signing-keys.js';
import type { AuthorizationDetail } from './token-types.js';

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

export const newJti = () => pooledRandomId(16);

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
  const input = Buffer.from(`${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`);
  // EdDSA: Ed25519 over the input (RFC 8037 §3.1); ES256: r||s, not DER (RFC 7518 §3.4). The DER is
  // converted here: `{ key, dsaEncoding: 'ieee-p1363' }` costs twice the signature itself on Node 24.
  const signature = key.alg === 'EdDSA' ? sign(null, input, keyObject) : derToRawEcdsa(sign('sha256', input, keyObject), 32);
  return { token: `${input.toString('latin1')}.${signature.toString('base64url')}`, jti };
}

/** ECDSA-Sig-Value (DER SEQUENCE of INTEGER r, s) → r || s, each `size` bytes, big-endian. */
export function derToRawEcdsa(der: Buffer, size: number): Buffer {
  // P-256 signatures are at most 72 bytes, so every DER length here is one byte (short form).
  if (der[0] !== 0x30 || der[1] !== der.length - 2) throw new Error('not a DER ECDSA signature');
  const raw = Buffer.alloc(2 * size);
  let offset = 2;
  for (let part = 0; part < 2; part++) {
    if (der[offset] !== 0x02) throw new Error('not a DER ECDSA signature');
    let length = der[offset + 1] ?? 0;
    let start = offset + 2;
    offset = start + length;
    // INTEGERs carry a 0x00 before a high first byte; r and s never exceed `size` bytes otherwise.
    while (length > size && der[start] === 0) {
      start++;
      length--;
    }
    if (length > size || offset > der.length) throw new Error('not a DER ECDSA signature');
    der.copy(raw, part * size + size - length, start, start + length);
  }
  if (offset !== der.length) throw new Error('not a DER ECDSA signature');
  return raw;
}
