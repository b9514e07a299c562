import { generateKeyPairSync } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { importSigningKey, SigningKeys } from '../../../src/crypto/signing-keys.js';
import { mintOperationToken } from '../../../src/tokens/operation-token.js';

const pem = (type: 'ed25519' | 'ec') =>
  (type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('ed25519')).privateKey
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();

const claims = {
  issuer: 'https://vault.test',
  userId: 'https://idp.test#alice',
  agent: 'spiffe://corp/agent/a',
  provider: 'crm',
  operation: 'crm:records.read',
  gateway: 'spiffe://corp/gateway',
  certThumbprint: 'thumb',
  issuedAt: Math.floor(Date.now() / 1000),
  expiresAt: Math.floor(Date.now() / 1000) + 60,
};

describe('operation tokens', () => {
  for (const type of ['ed25519', 'ec'] as const) {
    it(`signed with ${type} verify with jose against the JWKS as RFC 9068 at+jwt`, async () => {
      const keys = new SigningKeys(await importSigningKey(pem(type)));
      const { token, jti } = mintOperationToken(keys, claims);
      const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(keys.jwks()), { typ: 'at+jwt', issuer: claims.issuer, audience: 'crm' });
      expect(protectedHeader).toStrictEqual({ alg: keys.active.alg, kid: keys.active.kid, typ: 'at+jwt' });
      expect(payload).toStrictEqual({
        iss: claims.issuer,
        sub: claims.userId,
        aud: 'crm',
        jti,
        iat: claims.issuedAt,
        exp: claims.expiresAt,
        scope: 'crm:records.read',
        act: { sub: claims.agent },
        cnf: { 'x5t#S256': 'thumb' },
        client_id: claims.gateway,
      });
    });
  }
});
