import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DecryptionError, EnvelopeError, UnknownKeyIdError, UnsupportedFormatError, createEnvelope, type RecordAad } from '../../../src/crypto/envelope.js';
import { Keyring, KeyringSealedError } from '../../../src/crypto/keyring.js';

const record: RecordAad = { kind: 'grant.refresh_token', grantId: 'g-1', userId: 'https://idp.example|alice', provider: 'salesforce' };
const kek = (): Uint8Array => randomBytes(32);

async function envelopeWith(keys: Record<string, Uint8Array>, activeId?: string) {
  const keyring = new Keyring(
    Object.entries(keys).map(([id, key]) => ({ id, key })),
    activeId,
  );
  return { keyring, envelope: await createEnvelope(keyring) };
}

function flipBit(ciphertext: string, index: number, bit = 0): string {
  const bytes = Buffer.from(ciphertext, 'base64url');
  bytes[index] = (bytes[index] ?? 0) ^ (1 << bit);
  return bytes.toString('base64url');
}

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Same bytes, but with the unused low bits of the last character set (RFC 4648 §3.5). */
function nonCanonical(text: string): string {
  expect(text.length % 4).not.toBe(0);
  const last = BASE64URL_ALPHABET.indexOf(text.slice(-1));
  return text.slice(0, -1) + BASE64URL_ALPHABET[last | 1];
}

describe('envelope encryption', () => {
  it('round-trips empty, unicode and 4 KB secrets', async () => {
    const { envelope } = await envelopeWith({ '1': kek() });
    for (const plaintext of ['', 'rt-🔑-ünïcödé-令牌', 'x'.repeat(4096), randomBytes(3000).toString('base64')]) {
      const sealed = envelope.seal(plaintext, record);
      expect(sealed).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(envelope.open(sealed, record)).toBe(plaintext);
    }
  });

  it('never produces the same ciphertext twice for the same secret', async () => {
    const { envelope } = await envelopeWith({ '1': kek() });
    expect(envelope.seal('same', record)).not.toBe(envelope.seal('same', record));
  });

  it('lays out version, key id, wrapped key, nonce and tagged ciphertext', async () => {
    const { envelope } = await envelopeWith({ '7': kek() });
    const bytes = Buffer.from(envelope.seal('abc', record), 'base64url');
    expect([...bytes.subarray(0, 3)]).toStrictEqual([1, 1, '7'.charCodeAt(0)]);
    expect(bytes.byteLength).toBe(3 + 24 + 48 + 24 + 3 + 16);
  });

  it('refuses to open a ciphertext with any single bit flipped, at every byte position', async () => {
    const { envelope } = await envelopeWith({ '1': kek() });
    const sealed = envelope.seal('refresh-token-value', record);
    const length = Buffer.from(sealed, 'base64url').byteLength;
    for (let i = 0; i < length; i++) {
      for (const bit of [0, 7]) {
        expect(() => envelope.open(flipBit(sealed, i, bit), record), `byte ${i} bit ${bit}`).toThrow(EnvelopeError);
      }
    }
  });

  it.each([
    ['grantId', { ...record, grantId: 'g-2' }],
    ['userId', { ...record, userId: 'https://idp.example|mallory' }],
    ['provider', { ...record, provider: 'servicenow' }],
    ['kind', { ...record, kind: 'grant.access_token' }],
    ['an extra field', { ...record, extra: '' }],
  ])('refuses a ciphertext copied onto a record with another %s', async (_field, other) => {
    const { envelope } = await envelopeWith({ '1': kek() });
    const sealed = envelope.seal('secret', record);
    expect(() => envelope.open(sealed, other)).toThrow(DecryptionError);
  });

  it('keeps field boundaries apart in the record binding', async () => {
    const { envelope } = await envelopeWith({ '1': kek() });
    const sealed = envelope.seal('secret', { kind: 'k', a: 'bc' });
    expect(() => envelope.open(sealed, { kind: 'k', ab: 'c' })).toThrow(DecryptionError);
  });

  it('names the key id it does not know', async () => {
    const writer = await envelopeWith({ '1': kek(), '2': kek() });
    const reader = await envelopeWith({ '1': kek() });
    const sealed = writer.envelope.seal('secret', record);
    expect(() => reader.envelope.open(sealed, record)).toThrow(UnknownKeyIdError);
    try {
      reader.envelope.open(sealed, record);
    } catch (error) {
      expect(error).toBeInstanceOf(UnknownKeyIdError);
      expect((error as UnknownKeyIdError).keyId).toBe('2');
    }
  });

  it('fails authentication under a different KEK with the same id', async () => {
    const a = await envelopeWith({ '1': kek() });
    const b = await envelopeWith({ '1': kek() });
    expect(() => b.envelope.open(a.envelope.seal('secret', record), record)).toThrow(DecryptionError);
  });

  it('writes with the active key and still reads the previous one', async () => {
    const k1 = kek();
    const k2 = kek();
    const before = await envelopeWith({ '1': k1 });
    const old = before.envelope.seal('old secret', record);
    const after = await envelopeWith({ '1': k1, '2': k2 });
    expect(after.keyring.activeId).toBe('2');
    expect(after.envelope.keyIdOf(old)).toBe('1');
    expect(after.envelope.open(old, record)).toBe('old secret');
    const fresh = after.envelope.seal('new secret', record);
    expect(after.envelope.keyIdOf(fresh)).toBe('2');
    expect(after.envelope.open(fresh, record)).toBe('new secret');
  });

  it('rewraps a ciphertext onto the active key, idempotently', async () => {
    const k1 = kek();
    const old = (await envelopeWith({ '1': k1 })).envelope.seal('secret', record);
    const { envelope } = await envelopeWith({ '1': k1, '2': kek() });
    const moved = envelope.rewrap(old, record);
    expect(envelope.keyIdOf(moved)).toBe('2');
    expect(envelope.open(moved, record)).toBe('secret');
    expect(envelope.rewrap(moved, record)).toBe(moved);
    const withoutOld = await envelopeWith({ '1': kek(), '2': kek() });
    expect(() => withoutOld.envelope.open(moved, record)).toThrow(DecryptionError);
  });

  it('refuses to rewrap a ciphertext that belongs to another record', async () => {
    const k1 = kek();
    const old = (await envelopeWith({ '1': k1 })).envelope.seal('secret', record);
    const { envelope } = await envelopeWith({ '1': k1, '2': kek() });
    expect(() => envelope.rewrap(old, { ...record, grantId: 'g-2' })).toThrow(DecryptionError);
  });

  it('follows an explicitly chosen active key', async () => {
    const { envelope } = await envelopeWith({ '1': kek(), '2': kek() }, '1');
    expect(envelope.keyIdOf(envelope.seal('secret', record))).toBe('1');
  });

  it('rejects truncated, garbage and non-canonical input as an unsupported format', async () => {
    const { envelope } = await envelopeWith({ '1': kek() });
    const sealed = envelope.seal('secret', record);
    const bytes = Buffer.from(sealed, 'base64url');
    const inputs = [
      '',
      'not base64url!',
      'a+b/c==',
      Buffer.from(sealed, 'base64url').toString('base64'),
      bytes.subarray(0, 2 + 1 + 24 + 48 + 24 + 15).toString('base64url'),
      bytes.subarray(0, 10).toString('base64url'),
      Buffer.concat([Buffer.of(2), bytes.subarray(1)]).toString('base64url'),
      Buffer.concat([Buffer.of(1, 0), bytes.subarray(2)]).toString('base64url'),
      nonCanonical(sealed),
    ];
    for (const input of inputs) expect(() => envelope.open(input, record), input).toThrow(UnsupportedFormatError);
    expect(() => envelope.keyIdOf('%%%')).toThrow(UnsupportedFormatError);
  });

  it('keeps key bytes and plaintext out of error messages', async () => {
    const key = kek();
    const { envelope } = await envelopeWith({ '1': key });
    const sealed = envelope.seal('top-secret-token', record);
    let message = '';
    try {
      envelope.open(sealed, { ...record, grantId: 'other' });
    } catch (error) {
      message = String(error) + (error as Error).stack;
    }
    expect(message).toContain('DecryptionError');
    expect(message).not.toContain('top-secret-token');
    expect(message).not.toContain(Buffer.from(key).toString('base64'));
  });

  it('throws KeyringSealedError for every operation once the keyring is sealed', async () => {
    const key = kek();
    const { keyring, envelope } = await envelopeWith({ '1': key });
    const sealed = envelope.seal('secret', record);
    keyring.seal();
    expect(keyring.isSealed()).toBe(true);
    expect(() => envelope.seal('secret', record)).toThrow(KeyringSealedError);
    expect(() => envelope.open(sealed, record)).toThrow(KeyringSealedError);
    expect(() => envelope.rewrap(sealed, record)).toThrow(KeyringSealedError);
    expect(() => keyring.get('1')).toThrow(KeyringSealedError);
    expect(() => keyring.activeId).toThrow(KeyringSealedError);
  });
});
