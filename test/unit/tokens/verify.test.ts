import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { importSigningKey, SigningKeys } from '../../../src/crypto/signing-keys.js';
import { mintOperationToken } from '../../../src/tokens/mint.js';
import { verifyOperationToken } from '../../../src/tokens/verify.js';

const pem = (type: 'ed25519' | 'ec') =>
  (type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('ed25519')).privateKey
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();

const ISSUER = 'https://vault.test';
const now = Math.floor(Date.now() / 1000);
const claims = {
  issuer: ISSUER,
  userId: 'u',
  agent: 'a',
  provider: 'crm',
  operation: 'crm:records.read',
  gateway: 'g',
  certThumbprint: 'thumb',
  issuedAt: now,
  expiresAt: now + 60,
};
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token signed with the vault's own EdDSA key but with a chosen header and payload. */
function signed(keys: SigningKeys, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign(null, Buffer.from(input), keys.active.privateKey as never).toString('base64url')}`;
}

describe('verifyOperationToken', () => {
  for (const type of ['ed25519', 'ec'] as const) {
    it(`accepts the vault's own ${type} tokens`, async () => {
      const keys = new SigningKeys(await importSigningKey(pem(type)));
      const { token, jti } = mintOperationToken(keys, claims);
      expect(verifyOperationToken(token, keys, ISSUER)).toStrictEqual({ jti, sub: 'u', aud: 'crm', exp: now + 60, x5t: 'thumb' });
    });
  }

  it('refuses tampering, other issuers, expiry, foreign keys, header tricks and sloppy encodings', async () => {
    const keys = new SigningKeys(await importSigningKey(pem('ed25519')));
    const other = new SigningKeys(await importSigningKey(pem('ed25519')));
    const { token } = mintOperationToken(keys, claims);
    const [h, p, s] = token.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const header = { alg: 'EdDSA', kid: keys.active.kid, typ: 'at+jwt' };
    // The hand-signed variants below differ from this accepted one only where each says.
    expect(verifyOperationToken(signed(keys, header, payload), keys, ISSUER).jti).toBe(payload.jti);
    const refused = [
      `${h}.${b64({ ...payload, aud: 'other' })}.${s}`,
      mintOperationToken(other, claims).token,
      mintOperationToken(keys, { ...claims, issuer: 'https://evil.test' }).token,
      mintOperationToken(keys, { ...claims, expiresAt: now - 1 }).token,
      signed(keys, { ...header, typ: 'JWT' }, payload),
      signed(keys, { ...header, crit: ['b64'], b64: false }, payload),
      signed(keys, { ...header, alg: 'ES256' }, payload),
      signed(keys, { ...header, kid: 'unknown' }, payload),
      `${b64({ alg: 'none', kid: keys.active.kid, typ: 'at+jwt' })}.${p}.`,
      `${h}.${p}.${s}=`,
      `${h}.${p}`,
      signed(keys, header, { ...payload, jti: 42 }),
    ];
    for (const [i, bad] of refused.entries()) expect(() => verifyOperationToken(bad, keys, ISSUER), `case ${i}`).toThrow();
  });
});
