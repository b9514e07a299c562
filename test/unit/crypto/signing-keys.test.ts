import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, createLocalJWKSet, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { SigningKeys, UnsupportedSigningKeyError, importSigningKey } from '../../../src/crypto/signing-keys.js';

const pem = (type: 'ed25519' | 'p256'): string =>
  (type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' })).privateKey
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();

describe('signing keys', () => {
  it('publishes only public members, with kid = RFC 7638 thumbprint', async () => {
    const ed = await importSigningKey(pem('ed25519'));
    const ec = await importSigningKey(pem('p256'));
    const keys = new SigningKeys(ec, [ed]);
    const { keys: jwks } = keys.jwks();
    expect(jwks).toStrictEqual([
      { kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String), kid: ec.kid, alg: 'ES256', use: 'sig' },
      { kty: 'OKP', crv: 'Ed25519', x: expect.any(String), kid: ed.kid, alg: 'EdDSA', use: 'sig' },
    ]);
    for (const jwk of jwks) {
      expect(jwk).not.toHaveProperty('d');
      const { kid, alg: _alg, use: _use, ...members } = jwk;
      expect(kid).toBe(await calculateJwkThumbprint(members));
    }
  });

  it.each(['ed25519', 'p256'] as const)('signs with the active %s key; the JWKS verifies it', async (type) => {
    const active = await importSigningKey(pem(type));
    const previous = await importSigningKey(pem('ed25519'));
    const keys = new SigningKeys(active, [previous]);
    const jwt = await new SignJWT({ op: 'read' })
      .setProtectedHeader({ alg: keys.active.alg, kid: keys.active.kid, typ: 'JWT' })
      .setIssuer('https://vault.example')
      .setExpirationTime('1m')
      .sign(keys.active.privateKey);
    const { payload, protectedHeader } = await jwtVerify(jwt, createLocalJWKSet(keys.jwks()), { issuer: 'https://vault.example' });
    expect(payload.op).toBe('read');
    expect(protectedHeader.kid).toBe(active.kid);
    expect(keys.get(previous.kid)).toBe(previous);
  });

  it('keeps verifying tokens signed by a previous key after rotation', async () => {
    const old = await importSigningKey(pem('ed25519'));
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: old.alg, kid: old.kid }).sign(old.privateKey);
    const rotated = new SigningKeys(await importSigningKey(pem('ed25519')), [old]);
    await expect(jwtVerify(jwt, createLocalJWKSet(rotated.jwks()))).resolves.toBeDefined();
  });

  it.each([
    ['RSA', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
    ['P-384', generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
    ['SEC1 P-256', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' }).toString()],
    ['garbage', 'not a key'],
  ])('rejects a %s key', async (_case, input) => {
    await expect(importSigningKey(input)).rejects.toThrow(UnsupportedSigningKeyError);
  });

  it('adopts a reloaded set: the new key signs, a vanished key stays published until the retention ends', async () => {
    const [k1, k2] = await Promise.all([importSigningKey(pem('ed25519')), importSigningKey(pem('p256'))]);
    const live = new SigningKeys(k1);
    const t0 = 1_000_000;
    live.adopt(new SigningKeys(k2, [k1]), 900_000, t0);
    expect({ active: live.active.kid, previous: live.previousKids(t0) }).toStrictEqual({ active: k2.kid, previous: [k1.kid] });
    live.adopt(new SigningKeys(k2), 900_000, t0 + 10);
    expect(live.jwks(t0 + 900_009).keys.map((k) => k.kid)).toStrictEqual([k2.kid, k1.kid]);
    expect(live.get(k1.kid, t0 + 900_009)).toBe(k1);
    expect(live.jwks(t0 + 900_010).keys.map((k) => k.kid)).toStrictEqual([k2.kid]);
    expect(live.get(k1.kid, t0 + 900_010)).toBeUndefined();
    expect(live.previousKids(t0 + 900_010)).toStrictEqual([]);
  });
});
