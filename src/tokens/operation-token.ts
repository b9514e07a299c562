/**
 * Operation tokens: RFC 9068 JWT access tokens (`typ: at+jwt`) for exactly one
 * operation, on behalf of the user (`sub`) by the agent (`act`, RFC 8693 §4.1),
 * bound to the gateway certificate (RFC 8705 §3 `cnf.x5t#S256`). This module
 * owns their format: the one mint (/exchange) and the one rule set that
 * verifies them (/forward and /introspect alike).
 *
 * node:crypto directly in both directions (RFC 7515 compact serialization): on
 * the exchange and forward hot paths WebCrypto's asynchronous job costs
 * several times the signature itself. test/unit/tokens/verify-cross-check.test.ts
 * holds the verifier to jose's jwtVerify: it never accepts what jose refuses.
 */
import { createHmac, createPublicKey, hkdfSync, KeyObject, sign, verify } from 'node:crypto';
import { pooledRandomId } from '../crypto/random-ids.js';
import type { SigningKey, SigningKeys } from '../crypto/signing-keys.js';
import { fullOperationName } from '../providers/schema.js';
import { derToRawEcdsa } from './ecdsa-signature.js';
import { authorizationDetail, type AuthorizationDetail } from './token-types.js';

/** RFC 9068 §2.1: the `typ` of a JWT access token. */
export const OPERATION_TOKEN_TYP = 'at+jwt';

/** What /exchange decided, in the vault's terms. */
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

/** The claims set as minted and as verified (RFC 9068 §2.2). */
export interface OperationTokenPayload {
  iss: string;
  /** The user. */
  sub: string;
  /** The provider. */
  aud: string;
  jti: string;
  iat: number;
  exp: number;
  /** The one operation, `<provider>:<operation>`. */
  scope: string;
  /** RFC 9396 §2: the one entry the operation was requested with. */
  authorization_details?: [AuthorizationDetail];
  act: { sub: string };
  cnf: { 'x5t#S256': string };
  /** The gateway the token was issued to. */
  client_id: string;
}

export interface MintedToken {
  token: string;
  jti: string;
  /** The token's record proof (operationTokenProof): stored with its record so /forward can recognise it. */
  proof: string;
}

export interface VerifyOptions {
  issuer: string;
  /** Whole seconds of clock difference between replicas tolerated on `exp`, `iat` and `nbf`. */
  clockSkewSeconds: number;
  /** Epoch seconds; the current time by default. */
  now?: number;
}

/** Why a token was refused; only for logs, never for the caller's answer. */
export class OperationTokenRejected extends Error {
  override name = 'OperationTokenRejected';
  readonly code = 'TV_OPERATION_TOKEN_REJECTED';
}

const JTI_BYTES = 16;
/** base64url of `JTI_BYTES` random bytes. */
const JTI = /^[A-Za-z0-9_-]{22}$/;
/** RFC 8705 §3.1: base64url of a SHA-256 digest. */
const X5T_S256 = /^[A-Za-z0-9_-]{43}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Refuses invalid UTF-8 (RFC 8259 §8.1), and keeps a byte order mark where JSON.parse refuses it. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

interface PreparedKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** base64url of the protected header, the same for every token of this key. */
  header: string;
  /** HMAC key of the record proofs of this key's tokens, derived from the private key (RFC 5869). */
  proofKey: Buffer;
}

const prepared = new WeakMap<SigningKey, PreparedKey>();

function prepare(key: SigningKey): PreparedKey {
  let p = prepared.get(key);
  if (!p) {
    const privateKey = KeyObject.from(key.privateKey);
    const header = Buffer.from(JSON.stringify({ alg: key.alg, kid: key.kid, typ: OPERATION_TOKEN_TYP })).toString('base64url');
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    const proofKey = Buffer.from(hkdfSync('sha256', der, '', 'token-vault operation-token record proof', 32));
    p = { privateKey, publicKey: createPublicKey(privateKey), header, proofKey };
    prepared.set(key, p);
  }
  return p;
}

export function mintOperationToken(keys: SigningKeys, claims: OperationTokenClaims): MintedToken {
  const jti = pooledRandomId(JTI_BYTES);
  const key = keys.active;
  const { privateKey, header } = prepare(key);
  const payload: OperationTokenPayload = {
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
  // EdDSA: Ed25519 over the input (RFC 8037 §3.1); ES256: r||s, not DER (RFC 7518 §3.4).
  const signature = key.alg === 'EdDSA' ? sign(null, input, privateKey) : derToRawEcdsa(sign('sha256', input, privateKey), 32);
  const token = `${input.toString('latin1')}.${signature.toString('base64url')}`;
  return { token, jti, proof: proofOf(prepare(key), token) };
}

/**
 * HMAC-SHA256 of the whole compact token under a key derived from the signing key that signed
 * it: only a holder of that signing key can make one, so a record whose stored proof equals the
 * presented token's proves that these exact bytes were minted (and signed) by the vault, and the
 * signature need not be checked again (forward/redeem.ts). Not a secret: it opens nothing.
 */
function proofOf(key: PreparedKey, token: string): string {
  return createHmac('sha256', key.proofKey).update(token).digest('base64url');
}

function reject(why: string): never {
  throw new OperationTokenRejected(why);
}

/**
 * The vault's own operation tokens pass, nothing else: compact JWS (RFC 7515
 * §7.1) of three canonical base64url parts; `typ: at+jwt` (RFC 9068 §2.1); no
 * `crit` (RFC 7515 §4.1.11: no extension is understood); a `kid` naming one of
 * the vault's keys (active, previous or retiring: SigningKeys.get) and the
 * `alg` of that key, never one the token chooses (RFC 8725 §3.1); the vault as
 * `iss`; every claim the mint writes, in the shape it writes it; `exp`, `iat`
 * and any `nbf` within the clock skew (RFC 7519 §4.1.4-6). Other claims and
 * header parameters are ignored (RFC 7519 §4, RFC 7515 §4).
 */
export function verifyOperationToken(token: string, keys: SigningKeys, options: VerifyOptions): OperationTokenPayload {
  return readToken(token, keys, options, true).claims;
}

/** A token read by readOperationToken: every rule but the signature checked. */
export interface ReadOperationToken {
  claims: OperationTokenPayload;
  /** What its record holds if the vault minted exactly these bytes (operationTokenProof). */
  proof: string;
}

/**
 * Every rule of verifyOperationToken except the signature: the claims are not
 * yet authenticated. The caller must either check the signature
 * (operationTokenSignatureValid) or find `proof` in the token's record, which
 * only the mint of these exact bytes wrote (TokenStore.consume).
 */
export function readOperationToken(token: string, keys: SigningKeys, options: VerifyOptions): ReadOperationToken {
  return readToken(token, keys, options, false);
}

function readToken(
  token: string,
  keys: SigningKeys,
  { issuer, clockSkewSeconds, now = Date.now() / 1000 }: VerifyOptions,
  signed: boolean,
): ReadOperationToken {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every(isCanonicalBase64url)) reject('not a compact JWS');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = jsonObject(headerPart) ?? reject('malformed header');
  const { typ, crit, kid, alg } = header;
  if (typ !== OPERATION_TOKEN_TYP || crit !== undefined || typeof kid !== 'string') reject('header refused');
  const key = keys.get(kid) ?? reject('unknown key');
  if (alg !== key.alg) reject('algorithm differs from the key');
  if (signed ? !signatureValid(key, `${headerPart}.${payloadPart}`, signaturePart) : signaturePart.length !== 86) reject('bad signature');

  const claims = jsonObject(payloadPart) ?? reject('malformed payload');
  const { iss, sub, aud, jti, iat, exp, nbf, scope, act, cnf, client_id, authorization_details } = claims;
  if (iss !== issuer) reject('other issuer');
  if (!isText(sub) || !isText(aud) || !isText(client_id)) reject('sub, aud or client_id refused');
  if (typeof jti !== 'string' || !JTI.test(jti)) reject('jti refused');
  // One operation of the audience's provider (providers/catalog.ts names them `<provider>:<operation>`).
  if (typeof scope !== 'string' || !scope.startsWith(`${aud}:`) || !fullOperationName.safeParse(scope).success) reject('scope refused');
  // NumericDates as the mint writes them: whole seconds (RFC 7519 §2), issued before they expire.
  if (!isSeconds(iat) || !isSeconds(exp) || exp <= iat) reject('iat or exp refused');
  if (exp <= now - clockSkewSeconds) reject('expired');
  if (iat > now + clockSkewSeconds) reject('issued in the future');
  if (nbf !== undefined && !(isSeconds(nbf) && nbf <= now + clockSkewSeconds)) reject('not yet valid');
  const agent = isObject(act) ? act.sub : undefined;
  if (!isText(agent)) reject('act refused');
  const x5t = isObject(cnf) ? cnf['x5t#S256'] : undefined;
  if (typeof x5t !== 'string' || !X5T_S256.test(x5t)) reject('cnf refused');
  const detail = authorization_details === undefined ? undefined : (detailOf(authorization_details, aud, scope) ?? reject('authorization_details refused'));
  return {
    claims: {
      iss: issuer,
      sub,
      aud,
      jti,
      iat,
      exp,
      scope,
      ...(detail ? { authorization_details: [detail] } : {}),
      act: { sub: agent },
      cnf: { 'x5t#S256': x5t },
      client_id,
    },
    proof: proofOf(prepare(key), token),
  };
}

/**
 * Unpadded base64url (RFC 7515 §2) in its one spelling: no length that cannot
 * occur and no stray bits in the last character (RFC 4648 §3.5), so no two
 * strings decode to the same bytes.
 */
function isCanonicalBase64url(part: string): boolean {
  if (!BASE64URL.test(part)) return false;
  const tail = part.length % 4;
  if (tail === 0) return true;
  if (tail === 1) return false;
  return (ALPHABET.indexOf(part[part.length - 1]!) & (tail === 2 ? 0x0f : 0x03)) === 0;
}

function jsonObject(part: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(Buffer.from(part, 'base64url')));
  } catch {
    return undefined;
  }
  return isObject(value) ? value : undefined;
}

/** The signature of a token that readOperationToken accepted, by the key its header names. */
export function operationTokenSignatureValid(token: string, keys: SigningKeys): boolean {
  const dot = token.lastIndexOf('.');
  const key = keys.get((jsonObject(token.slice(0, token.indexOf('.'))) ?? {}).kid as string);
  return key !== undefined && dot > 0 && signatureValid(key, token.slice(0, dot), token.slice(dot + 1));
}

function signatureValid(key: SigningKey, input: string, signaturePart: string): boolean {
  const signature = Buffer.from(signaturePart, 'base64url');
  // Ed25519 (RFC 8032 §5.1.6) and ES256 r||s (RFC 7518 §3.4) signatures are both 64 bytes.
  if (signature.length !== 64) return false;
  const data = Buffer.from(input, 'latin1');
  const { publicKey } = prepare(key);
  try {
    return key.alg === 'EdDSA' ? verify(null, data, publicKey, signature) : verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/** The one RFC 9396 entry, typed as the audience and naming the scope's operation (exchange/target.ts). */
function detailOf(value: unknown, aud: string, scope: string): AuthorizationDetail | undefined {
  if (!Array.isArray(value) || value.length !== 1) return undefined;
  const parsed = authorizationDetail.safeParse(value[0]);
  if (!parsed.success || parsed.data.type !== aud) return undefined;
  const action = parsed.data.actions[0];
  return action === scope || `${aud}:${action}` === scope ? parsed.data : undefined;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0;
const isSeconds = (value: unknown): value is number => Number.isSafeInteger(value);
