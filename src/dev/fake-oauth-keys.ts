/**
 * Signing keys of a fake OAuth server, and tokens minted with them without a
 * browser. The same key material goes to oidc-provider's `jwks`, so a token
 * minted here verifies against the fake's own JWKS endpoint exactly like one
 * the provider issued.
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, SignJWT, type JWK } from 'jose';

export type FakeSigningAlg = 'ES256' | 'EdDSA' | 'RS256';

interface SigningKey {
  alg: FakeSigningAlg;
  kid: string;
  privateKey: KeyObject;
  jwk: JWK;
}

export interface FakeSigningKeys {
  /** The first key signs ID tokens by default. */
  keys: SigningKey[];
  /** Private JWKs for oidc-provider's `jwks` configuration. */
  jwks: { keys: JWK[] };
}

function generate(alg: FakeSigningAlg): KeyObject {
  switch (alg) {
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    case 'EdDSA':
      return generateKeyPairSync('ed25519').privateKey;
    case 'RS256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  }
}

export async function generateSigningKeys(algs: readonly FakeSigningAlg[]): Promise<FakeSigningKeys> {
  return signingKeysFrom(algs.map((alg) => ({ alg, privateKey: generate(alg) })));
}

/** Signing keys from existing private keys (dev mode keeps the demo IdP's key under keys/dev/). */
export async function signingKeysFrom(pairs: readonly { alg: FakeSigningAlg; privateKey: KeyObject }[]): Promise<FakeSigningKeys> {
  const keys: SigningKey[] = [];
  for (const { alg, privateKey } of pairs) {
    const exported = privateKey.export({ format: 'jwk' }) as JWK;
    const kid = await calculateJwkThumbprint(exported);
    // EdDSA keys carry no `alg`: oidc-provider then offers both `EdDSA` and `Ed25519` for them.
    const jwk: JWK = { ...exported, kid, use: 'sig', ...(alg === 'EdDSA' ? {} : { alg }) };
    keys.push({ alg, kid, privateKey, jwk });
  }
  return { keys, jwks: { keys: keys.map((k) => k.jwk) } };
}

function pick(keys: FakeSigningKeys, alg: FakeSigningAlg | undefined): SigningKey {
  const key = alg ? keys.keys.find((k) => k.alg === alg) : keys.keys[0];
  if (!key) throw new Error(`fake OAuth server has no ${alg ?? ''} signing key`);
  return key;
}

export interface MintIdTokenInput {
  sub: string;
  aud: string | string[];
  /** Seconds from now; negative values mint an already-expired token. Default 300. */
  expiresIn?: number;
  alg?: FakeSigningAlg;
  /** Extra claims; they override the defaults (tests use this for wrong `iss`, `may_act`, ...). */
  extra?: Record<string, unknown>;
}

export interface MintAccessTokenInput extends MintIdTokenInput {
  scope?: string;
  clientId?: string;
}

const now = () => Math.floor(Date.now() / 1000);

export async function signIdToken(keys: FakeSigningKeys, issuer: string, input: MintIdTokenInput): Promise<string> {
  const key = pick(keys, input.alg);
  const iat = now();
  const claims = { iss: issuer, sub: input.sub, aud: input.aud, iat, exp: iat + (input.expiresIn ?? 300), ...input.extra };
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
}

/** An RFC 9068 JWT access token (`typ: at+jwt`, with `client_id` and `jti`). */
export async function signAccessToken(keys: FakeSigningKeys, issuer: string, input: MintAccessTokenInput): Promise<string> {
  const key = pick(keys, input.alg);
  const iat = now();
  const claims = {
    iss: issuer,
    sub: input.sub,
    aud: input.aud,
    iat,
    exp: iat + (input.expiresIn ?? 300),
    jti: randomUUID(),
    client_id: input.clientId ?? 'fake-client',
    ...(input.scope ? { scope: input.scope } : {}),
    ...input.extra,
  };
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' }).sign(key.privateKey);
}
