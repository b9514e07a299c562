import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { derToRawEcdsa } from '../../../src/tokens/ecdsa-signature.js';

describe('ES256 signatures in JWS form', () => {
  it('encodes ES256 signatures as r||s (RFC 7518 §3.4) for every length of r and s', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const data = Buffer.from('payload');
    const lengths = new Set<number>();
    // Short r or s (a leading zero byte dropped in DER) happen about once in 256 signatures each.
    for (let i = 0; i < 3_000; i++) {
      const der = sign('sha256', data, privateKey);
      lengths.add(der.length);
      const raw = derToRawEcdsa(der, 32);
      expect(raw.length).toBe(64);
      expect(verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw)).toBe(true);
    }
    expect(lengths.size).toBeGreaterThan(2);
    expect(() => derToRawEcdsa(Buffer.from([0x30, 0x02, 0x02, 0x00]), 32)).toThrow('not a DER ECDSA signature');
  });
});
