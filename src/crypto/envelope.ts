/**
 * Envelope encryption of secrets at rest (docs/architecture.md#secrets-at-rest).
 *
 * Each record gets a fresh data key; XChaCha20-Poly1305 encrypts the plaintext
 * under it and the active KEK wraps it. Layout, serialized as base64url
 * (RFC 4648 §5) without padding:
 *
 *   version(1) | kidLen(1) | kid | wrapNonce(24) | wrappedKey(48) | nonce(24) | ciphertext+tag(16)
 *
 * Both AEAD calls authenticate the header (version + kid) and the canonical
 * record descriptor, so neither the key id nor the record can be swapped.
 */
import { randomBytes } from 'node:crypto';
import sodium from 'libsodium-wrappers';
import { KeyringSealedError, type Keyring } from './keyring.js';

/** Describes the record a ciphertext belongs to; every field is bound into the AAD. */
export interface RecordAad {
  /** What the secret is, e.g. `grant.refresh_token`. */
  readonly kind: string;
  readonly [field: string]: string;
}

/** Base class of the errors raised when a ciphertext cannot be opened. */
export abstract class EnvelopeError extends Error {
  override get name(): string {
    return this.constructor.name;
  }
}

/** Authentication failed: tampered ciphertext, wrong KEK or wrong record. */
export class DecryptionError extends EnvelopeError {
  readonly code = 'TV_DECRYPTION_FAILED';
  constructor() {
    super('ciphertext failed authentication');
  }
}

/** The ciphertext names a KEK that is not in the keyring. */
export class UnknownKeyIdError extends EnvelopeError {
  readonly code = 'TV_UNKNOWN_KEY_ID';
  constructor(readonly keyId: string) {
    super('ciphertext uses an unknown key id');
  }
}

/** Not a ciphertext of a known format: bad encoding, version or length. */
export class UnsupportedFormatError extends EnvelopeError {
  readonly code = 'TV_UNSUPPORTED_CIPHERTEXT';
  constructor() {
    super('unsupported ciphertext format');
  }
}

/** Encrypts secrets bound to the record they belong to. */
export interface Envelope {
  seal(plaintext: string, record: RecordAad): string;
  /** @throws {DecryptionError | UnknownKeyIdError | UnsupportedFormatError | KeyringSealedError} */
  open(ciphertext: string, record: RecordAad): string;
  /** The KEK id in the header, without decrypting. @throws {UnsupportedFormatError} */
  keyIdOf(ciphertext: string): string;
  /**
   * Moves a ciphertext to the active KEK, keeping its data key. Returns the
   * input unchanged when it already uses the active KEK.
   */
  rewrap(ciphertext: string, record: RecordAad): string;
}

/** Builds an {@link Envelope} once libsodium's WebAssembly is ready. */
export async function createEnvelope(keyring: Keyring): Promise<Envelope> {
  await sodium.ready;
  return new SodiumEnvelope(keyring);
}

const VERSION = 1;
const KEY_BYTES = 32;
const NONCE_BYTES = 24;
const TAG_BYTES = 16;
const WRAPPED_BYTES = KEY_BYTES + TAG_BYTES;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

interface Parsed {
  readonly header: Uint8Array;
  readonly kid: string;
  readonly wrapNonce: Uint8Array;
  readonly wrappedKey: Uint8Array;
  readonly nonce: Uint8Array;
  readonly body: Uint8Array;
}

class SodiumEnvelope implements Envelope {
  constructor(private readonly keyring: Keyring) {}

  seal(plaintext: string, record: RecordAad): string {
    const kid = this.keyring.activeId;
    const dataKey = randomBytes(KEY_BYTES);
    const message = utf8.encode(plaintext);
    try {
      return this.#encrypt(kid, dataKey, message, record);
    } finally {
      sodium.memzero(dataKey);
      sodium.memzero(message);
    }
  }

  open(ciphertext: string, record: RecordAad): string {
    this.#assertOpen();
    const parsed = parse(ciphertext);
    const aad = concat(parsed.header, canonicalRecord(record));
    const dataKey = this.#unwrap(parsed, aad);
    try {
      const message = decrypt(parsed.body, aad, parsed.nonce, dataKey);
      try {
        return Buffer.from(message.buffer, message.byteOffset, message.byteLength).toString('utf8');
      } finally {
        sodium.memzero(message);
      }
    } finally {
      sodium.memzero(dataKey);
    }
  }

  keyIdOf(ciphertext: string): string {
    return parse(ciphertext).kid;
  }

  rewrap(ciphertext: string, record: RecordAad): string {
    const kid = this.keyring.activeId;
    const parsed = parse(ciphertext);
    const oldAad = concat(parsed.header, canonicalRecord(record));
    const dataKey = this.#unwrap(parsed, oldAad);
    try {
      // Authenticate the body even when nothing moves, so a rewrap job reports every record it cannot open.
      const message = decrypt(parsed.body, oldAad, parsed.nonce, dataKey);
      try {
        if (parsed.kid === kid) return ciphertext;
        // The body's AAD carries the kid, so it is re-sealed too: same data key, fresh nonce
        // (a 192-bit random nonce makes reuse negligible, draft-irtf-cfrg-xchacha §3.1).
        return this.#encrypt(kid, dataKey, message, record);
      } finally {
        sodium.memzero(message);
      }
    } finally {
      sodium.memzero(dataKey);
    }
  }

  #encrypt(kid: string, dataKey: Uint8Array, message: Uint8Array, record: RecordAad): string {
    const kek = this.#kek(kid);
    const header = encodeHeader(kid);
    const aad = concat(header, canonicalRecord(record));
    const wrapNonce = randomBytes(NONCE_BYTES);
    const wrappedKey = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(dataKey, aad, null, wrapNonce, kek);
    const nonce = randomBytes(NONCE_BYTES);
    const body = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(message, aad, null, nonce, dataKey);
    return Buffer.from(concat(header, wrapNonce, wrappedKey, nonce, body)).toString('base64url');
  }

  #kek(kid: string): Uint8Array {
    const kek = this.keyring.get(kid);
    if (kek === undefined) throw new UnknownKeyIdError(kid);
    return kek;
  }

  #assertOpen(): void {
    if (this.keyring.isSealed()) throw new KeyringSealedError();
  }

  #unwrap(parsed: Parsed, aad: Uint8Array): Uint8Array {
    return decrypt(parsed.wrappedKey, aad, parsed.wrapNonce, this.#kek(parsed.kid));
  }
}

function decrypt(ciphertext: Uint8Array, aad: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array {
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ciphertext, aad, nonce, key);
  } catch {
    // libsodium only says "cannot be decrypted"; the static message keeps it that way.
    throw new DecryptionError();
  }
}

function encodeHeader(kid: string): Uint8Array {
  const id = utf8.encode(kid);
  if (id.byteLength === 0 || id.byteLength > 255) throw new TypeError('key id must be 1..255 bytes');
  return concat(Uint8Array.of(VERSION, id.byteLength), id);
}

function parse(text: string): Parsed {
  if (typeof text !== 'string' || !BASE64URL.test(text)) throw new UnsupportedFormatError();
  const bytes = Buffer.from(text, 'base64url');
  // Non-canonical encodings (stray trailing bits) would give two texts for one ciphertext.
  if (bytes.toString('base64url') !== text) throw new UnsupportedFormatError();
  const version = bytes[0];
  const kidLen = bytes[1];
  if (version !== VERSION || kidLen === undefined || kidLen === 0) throw new UnsupportedFormatError();
  const kidEnd = 2 + kidLen;
  const wrapNonceEnd = kidEnd + NONCE_BYTES;
  const wrappedEnd = wrapNonceEnd + WRAPPED_BYTES;
  const nonceEnd = wrappedEnd + NONCE_BYTES;
  if (bytes.byteLength < nonceEnd + TAG_BYTES) throw new UnsupportedFormatError();
  let kid: string;
  try {
    kid = strictUtf8.decode(bytes.subarray(2, kidEnd));
  } catch {
    throw new UnsupportedFormatError();
  }
  return {
    header: bytes.subarray(0, kidEnd),
    kid,
    wrapNonce: bytes.subarray(kidEnd, wrapNonceEnd),
    wrappedKey: bytes.subarray(wrapNonceEnd, wrappedEnd),
    nonce: bytes.subarray(wrappedEnd, nonceEnd),
    body: bytes.subarray(nonceEnd),
  };
}

/**
 * Unambiguous encoding of a record descriptor: field count, then each
 * name and value as a 4-byte big-endian length and UTF-8 bytes, names sorted.
 * Length prefixes keep `{a: "bc"}` and `{ab: "c"}` apart.
 */
export function canonicalRecord(record: RecordAad): Uint8Array {
  if (typeof record.kind !== 'string' || record.kind === '') throw new TypeError('record needs a kind');
  const names = Object.keys(record).sort();
  const parts: Uint8Array[] = [u32(names.length)];
  for (const name of names) {
    const value: unknown = record[name];
    if (typeof value !== 'string') throw new TypeError(`record field "${name}" must be a string`);
    for (const text of [name, value]) {
      const bytes = utf8.encode(text);
      parts.push(u32(bytes.byteLength), bytes);
    }
  }
  return concat(...parts);
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.byteLength;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}
