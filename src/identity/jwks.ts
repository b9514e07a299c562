/**
 * Where an issuer's verification keys come from: a local JWKS file, or a
 * remote JWKS fetched through the guarded outbound fetch (SSRF policy,
 * deadline, size cap). Keys never come from the token itself: jose only
 * looks at embedded `jwk` when asked to (EmbeddedJWK), and `jku`/`x5u`/`x5c`
 * are never dereferenced (RFC 8725 §3.10).
 */
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, createRemoteJWKSet, customFetch, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { outboundFetch } from '../net/outbound.js';

export interface JwksSource {
  jwksUri?: string | undefined;
  jwksFile?: string | undefined;
  allowPrivateNetwork: boolean;
}

const JWKS_TIMEOUT_MS = 2_000;

export async function loadJwks(source: JwksSource): Promise<JWTVerifyGetKey> {
  if (source.jwksFile) {
    const jwks = JSON.parse(await readFile(source.jwksFile, 'utf8')) as JSONWebKeySet;
    return createLocalJWKSet(jwks);
  }
  if (!source.jwksUri) throw new TypeError('issuer has neither jwksUri nor jwksFile');
  const fetch = outboundFetch({ allowPrivateNetwork: source.allowPrivateNetwork, timeoutMs: JWKS_TIMEOUT_MS });
  return createRemoteJWKSet(new URL(source.jwksUri), {
    [customFetch]: fetch as never,
    timeoutDuration: JWKS_TIMEOUT_MS,
    // A rotated IdP key is picked up within 30 s of first use of its kid.
    cooldownDuration: 30_000,
    cacheMaxAge: 10 * 60_000,
  });
}
