import { X509Certificate, createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCa, issueCert } from '../../../src/dev/pki.js';
import { constantTimeEqual, x5tS256 } from '../../../src/crypto/thumbprint.js';

describe('certificate thumbprint', () => {
  it('is base64url SHA-256 of the DER certificate (RFC 8705 §3.1)', async () => {
    const ca = await createCa({ commonName: 'thumbprint CA' });
    const leaf = await issueCert(ca, { commonName: 'gw', uris: ['spiffe://t/gw'], clientAuth: true });
    const der = new X509Certificate(leaf.certPem).raw;
    expect(x5tS256(der)).toBe(createHash('sha256').update(der).digest('base64url'));
    expect(x5tS256(der)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(leaf.derBase64, 'base64')).toStrictEqual(der);
  });
});

describe('constant-time comparison', () => {
  it('compares strings of any length without throwing', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
    expect(constantTimeEqual('', 'a')).toBe(false);
  });
});
