/**
 * Test identity issuers: an IdP for subject tokens (EdDSA) and an agent
 * issuer for actor tokens (ES256), each with a JWKS file the vault trusts.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';

export interface TestIssuer {
  issuer: string;
  alg: 'EdDSA' | 'ES256';
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwksFile: string;
  /** Sign claims (defaults: iss, iat, exp in 5 min); `header` overrides the protected header. */
  sign(claims: JWTPayload, header?: Record<string, unknown>): Promise<string>;
}

export async function createIssuer(dir: string, name: string, issuer: string, alg: 'EdDSA' | 'ES256'): Promise<TestIssuer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `${name}-1`;
  const jwksFile = join(dir, `${name}.jwks.json`);
  await writeFile(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }] }));
  return {
    issuer,
    alg,
    kid,
    privateKey,
    publicKey,
    jwksFile,
    async sign(claims, header = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: issuer, iat: now, exp: now + 300, ...claims }).setProtectedHeader({ alg, kid, typ: 'JWT', ...header }).sign(privateKey);
    },
  };
}

export interface TestIdentities {
  idp: TestIssuer;
  agents: TestIssuer;
  audience: string;
  /** `identity` config section trusting both. */
  config: Record<string, unknown>;
  userToken(sub: string, extra?: JWTPayload): Promise<string>;
  agentToken(sub: string, extra?: JWTPayload): Promise<string>;
}

export const AUDIENCE = 'https://vault.test';

export async function createIdentities(dir: string): Promise<TestIdentities> {
  const idp = await createIssuer(dir, 'idp', 'https://idp.test', 'EdDSA');
  const agents = await createIssuer(dir, 'agents', 'https://agents.test', 'ES256');
  return {
    idp,
    agents,
    audience: AUDIENCE,
    config: {
      subjectIssuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile, algorithms: ['EdDSA'] }],
      actorIssuers: [{ issuer: agents.issuer, jwksFile: agents.jwksFile, algorithms: ['ES256'] }],
      clockSkewSeconds: 30,
    },
    userToken: (sub, extra = {}) => idp.sign({ sub, aud: AUDIENCE, ...extra }),
    agentToken: (sub, extra = {}) => agents.sign({ sub, aud: AUDIENCE, ...extra }),
  };
}
