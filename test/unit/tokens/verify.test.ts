import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { importSigningKey, SigningKeys } from '../../../src/crypto/signing-keys.js';
import { mintOperationToken, verifyOperationToken } from '../../../src/tokens/operation-token.js';

const pem = (type: 'ed25519' | 'ec') =>
  (type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('ed25519')).privateKey
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();

const ISSUER = 'https://vault.test';
const THUMB = 'q3Jc8aS2ZNh7dK5vJ2cXlYkS0x4qWm9pT1uR6eH8bVo';
const now = Math.floor(Date.now() / 1000);
const rules = { issuer: ISSUER, clockSkewSeconds: 30, now };
const claims = {
  issuer: ISSUER,
  userId: 'u',
  agent: 'a',
  provider: 'crm',
  operation: 'crm:records.read',
  gateway: 'g',
  certThumbprint: THUMB,
  issuedAt: now,
  expiresAt: now + 60,
};
const b64 = (value: unknown) => (Buffer.isBuffer(value) ? value : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))).toString('base64url');

/** A token signed with the vault's own EdDSA key but with a chosen header and payload (strings and bytes taken as is). */
function signed(keys: SigningKeys, header: unknown, payload: unknown): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign(null, Buffer.from(input), keys.active.privateKey as never).toString('base64url')}`;
}

describe('verifyOperationToken', () => {
  for (const type of ['ed25519', 'ec'] as const) {
    it(`accepts the vault's own ${type} tokens and returns their claims`, async () => {
      const keys = new SigningKeys(await importSigningKey(pem(type)));
      const { token, jti } = mintOperationToken(keys, claims);
      expect(verifyOperationToken(token, keys, rules)).toStrictEqual({
        iss: ISSUER,
        sub: 'u',
        aud: 'crm',
        jti,
        iat: now,
        exp: now + 60,
        scope: 'crm:records.read',
        act: { sub: 'a' },
        cnf: { 'x5t#S256': THUMB },
        client_id: 'g',
      });
    });
  }

  it('accepts RFC 9396 details naming the operation, and tokens within the clock skew', async () => {
    const keys = new SigningKeys(await importSigningKey(pem('ed25519')));
    const detail = { type: 'crm', actions: ['records.read'], identifier: 'grant-1' };
    const { token } = mintOperationToken(keys, { ...claims, detail });
    expect(verifyOperationToken(token, keys, rules).authorization_details).toStrictEqual([detail]);
    const late = mintOperationToken(keys, { ...claims, issuedAt: now - 80, expiresAt: now - 20 }).token;
    expect(verifyOperationToken(late, keys, rules).exp).toBe(now - 20);
    expect(() => verifyOperationToken(late, keys, { ...rules, clockSkewSeconds: 0 })).toThrow('expired');
    const early = mintOperationToken(keys, { ...claims, issuedAt: now + 20, expiresAt: now + 80 }).token;
    expect(verifyOperationToken(early, keys, rules).iat).toBe(now + 20);
    expect(() => verifyOperationToken(early, keys, { ...rules, clockSkewSeconds: 0 })).toThrow('issued in the future');
  });

  it('refuses tampering, other issuers, expiry, foreign keys, header tricks, sloppy encodings and claims off the format', async () => {
    const keys = new SigningKeys(await importSigningKey(pem('ed25519')));
    const other = new SigningKeys(await importSigningKey(pem('ed25519')));
    const { token } = mintOperationToken(keys, claims);
    const [h, p, s] = token.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const header = { alg: 'EdDSA', kid: keys.active.kid, typ: 'at+jwt' };
    const without = (name: string) => Object.fromEntries(Object.entries(payload).filter(([k]) => k !== name));
    // The hand-signed variants below differ from this accepted one only where each says.
    expect(verifyOperationToken(signed(keys, header, payload), keys, rules).jti).toBe(payload.jti);
    const refused: Record<string, [token: string, reason: string]> = {
      'payload swapped': [`${h}.${b64({ ...payload, aud: 'other' })}.${s}`, 'bad signature'],
      'foreign key': [mintOperationToken(other, claims).token, 'unknown key'],
      'other issuer': [mintOperationToken(keys, { ...claims, issuer: 'https://evil.test' }).token, 'other issuer'],
      'expired beyond the skew': [mintOperationToken(keys, { ...claims, issuedAt: now - 120, expiresAt: now - 30 }).token, 'expired'],
      'issued beyond the skew': [mintOperationToken(keys, { ...claims, issuedAt: now + 31, expiresAt: now + 90 }).token, 'issued in the future'],
      'typ JWT': [signed(keys, { ...header, typ: 'JWT' }, payload), 'header refused'],
      'typ with a media type prefix': [signed(keys, { ...header, typ: 'application/at+jwt' }, payload), 'header refused'],
      crit: [signed(keys, { ...header, crit: ['b64'], b64: false }, payload), 'header refused'],
      'no kid': [signed(keys, { alg: 'EdDSA', typ: 'at+jwt' }, payload), 'header refused'],
      'unknown kid': [signed(keys, { ...header, kid: 'unknown' }, payload), 'unknown key'],
      'alg of another key type': [signed(keys, { ...header, alg: 'ES256' }, payload), 'algorithm differs from the key'],
      'alg none': [`${b64({ alg: 'none', kid: keys.active.kid, typ: 'at+jwt' })}.${p}.`, 'not a compact JWS'],
      padding: [`${h}.${p}.${s}=`, 'not a compact JWS'],
      // The same signature bytes, with the last character's unused bits set.
      'stray bits in the last character': [`${h}.${p}.${s.slice(0, -1)}${String.fromCharCode(s.charCodeAt(s.length - 1) + 1)}`, 'not a compact JWS'],
      'two parts': [`${h}.${p}`, 'not a compact JWS'],
      'four parts': [`${h}.${p}.${s}.${s}`, 'not a compact JWS'],
      'payload an array': [signed(keys, header, [payload]), 'malformed payload'],
      'payload with a byte order mark': [signed(keys, header, `\uFEFF${JSON.stringify(payload)}`), 'malformed payload'],
      'payload not UTF-8': [
        signed(keys, header, Buffer.from(JSON.stringify({ ...payload, sub: '\u00e9' }).replace('\u00e9', '\u00ff'), 'latin1')),
        'malformed payload',
      ],
      'jti not a string': [signed(keys, header, { ...payload, jti: 42 }), 'jti refused'],
      'jti of another shape': [signed(keys, header, { ...payload, jti: 'short' }), 'jti refused'],
      'no iat': [signed(keys, header, without('iat')), 'iat or exp refused'],
      'iat not whole seconds': [signed(keys, header, { ...payload, iat: now + 0.5 }), 'iat or exp refused'],
      'exp not after iat': [signed(keys, header, { ...payload, exp: now }), 'iat or exp refused'],
      'nbf beyond the skew': [signed(keys, header, { ...payload, nbf: now + 31 }), 'not yet valid'],
      'no act': [signed(keys, header, without('act')), 'act refused'],
      'no client_id': [signed(keys, header, without('client_id')), 'sub, aud or client_id refused'],
      'cnf without x5t#S256': [signed(keys, header, { ...payload, cnf: { jkt: THUMB } }), 'cnf refused'],
      'x5t#S256 not a SHA-256 thumbprint': [signed(keys, header, { ...payload, cnf: { 'x5t#S256': 'thumb' } }), 'cnf refused'],
      'scope of another provider': [signed(keys, header, { ...payload, scope: 'erp:records.read' }), 'scope refused'],
      'two scopes': [signed(keys, header, { ...payload, scope: 'crm:records.read crm:records.write' }), 'scope refused'],
      'details of another provider': [
        signed(keys, header, { ...payload, authorization_details: [{ type: 'erp', actions: ['records.read'] }] }),
        'authorization_details refused',
      ],
      'details of another operation': [
        signed(keys, header, { ...payload, authorization_details: [{ type: 'crm', actions: ['records.write'] }] }),
        'authorization_details refused',
      ],
    };
    for (const [name, [bad, reason]] of Object.entries(refused)) expect(() => verifyOperationToken(bad, keys, rules), name).toThrow(reason);
  });
});
