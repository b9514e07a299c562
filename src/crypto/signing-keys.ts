/**
 * Token-signing keys and the JWKS that publishes them.
 *
 * The highest-numbered key signs; earlier keys stay in the JWKS so tokens they
 * signed keep verifying until they expire (RFC 7517 §5).
 */
import { createPrivateKey } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, importPKCS8, type CryptoKey, type JWK } from 'jose';

/** JWS algorithms the vault signs with (RFC 8037 §3.1, RFC 7518 §3.4). */
export type SigningAlg = 'EdDSA' | 'ES256';

/** One imported signing key. */
export interface SigningKey {
  /** RFC 7638 JWK thumbprint (SHA-256) of the public key. */
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly privateKey: CryptoKey;
  /** Public JWK with `kid`, `alg` and `use: 'sig'`; never private members. */
  readonly publicJwk: Readonly<JWK>;
}

/** A key file that is not a PKCS#8 Ed25519 or P-256 private key. */
export class UnsupportedSigningKeyError extends Error {
  readonly code = 'TV_SIGNING_KEY_UNSUPPORTED';

  constructor() {
    super('signing key must be a PKCS#8 PEM Ed25519 or P-256 private key');
  }

  override get name(): string {
    return 'UnsupportedSigningKeyError';
  }
}

// Only the public members of OKP (RFC 8037 §2) and EC (RFC 7518 §6.2.1) keys.
const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y'] as const;

/** Imports a PKCS#8 PEM private key; the algorithm follows from the key type. */
export async function importSigningKey(pem: string): Promise<SigningKey> {
  const alg = detectAlg(pem);
  let privateKey: CryptoKey;
  try {
    // extractable so the public JWK can be derived from it.
    privateKey = await importPKCS8(pem, alg, { extractable: true });
  } catch {
    throw new UnsupportedSigningKeyError();
  }
  const full = await exportJWK(privateKey);
  const pub: JWK = {};
  for (const member of PUBLIC_MEMBERS) if (full[member] !== undefined) pub[member] = full[member];
  const kid = await calculateJwkThumbprint(pub, 'sha256');
  return { kid, alg, privateKey, publicJwk: Object.freeze({ ...pub, kid, alg, use: 'sig' }) };
}

function detectAlg(pem: string): SigningAlg {
  let type: string | undefined;
  let curve: string | undefined;
  try {
    const key = createPrivateKey({ key: pem, format: 'pem' });
    type = key.asymmetricKeyType;
    curve = key.asymmetricKeyDetails?.namedCurve;
  } catch {
    throw new UnsupportedSigningKeyError();
  }
  if (type === 'ed25519') return 'EdDSA';
  if (type === 'ec' && curve === 'prime256v1') return 'ES256';
  throw new UnsupportedSigningKeyError();
}

/** The active signing key plus previous keys that stay published. */
export class SigningKeys {
  #byKid = new Map<string, SigningKey>();
  #active: SigningKey;
  /** Keys dropped from the key files by a reload, published until they can no longer verify a live token. */
  readonly #retiring = new Map<string, { key: SigningKey; until: number }>();

  /**
   * @param active signs new tokens.
   * @param previous no longer sign, but verify tokens issued before a rotation.
   */
  constructor(active: SigningKey, previous: readonly SigningKey[] = []) {
    this.#active = active;
    this.#byKid = SigningKeys.#index(active, previous);
  }

  static #index(active: SigningKey, previous: readonly SigningKey[]): Map<string, SigningKey> {
    const byKid = new Map<string, SigningKey>();
    for (const key of [active, ...previous]) {
      if (byKid.has(key.kid)) throw new TypeError(`duplicate signing key ${key.kid}`);
      byKid.set(key.kid, key);
    }
    return byKid;
  }

  /** The key that signs new tokens. */
  get active(): SigningKey {
    return this.#active;
  }

  /** Kids of the keys that verify but no longer sign (previous files and retiring keys). */
  previousKids(now = Date.now()): string[] {
    return this.#published(now)
      .filter((k) => k.kid !== this.#active.kid)
      .map((k) => k.kid);
  }

  /**
   * Take over a freshly loaded set (key reload). Keys that disappear from the
   * files stay published for `retainMs` (the longest operation-token TTL), so
   * tokens they signed keep verifying until they have expired (RFC 7517 §5).
   */
  adopt(next: SigningKeys, retainMs: number, now = Date.now()): void {
    for (const key of this.#byKid.values()) {
      if (!next.#byKid.has(key.kid)) this.#retiring.set(key.kid, { key, until: now + retainMs });
    }
    for (const kid of next.#byKid.keys()) this.#retiring.delete(kid);
    this.#byKid = new Map(next.#byKid);
    this.#active = next.#active;
  }

  /** The key with this `kid`, active, previous or retiring. */
  get(kid: string, now = Date.now()): SigningKey | undefined {
    const key = this.#byKid.get(kid);
    if (key) return key;
    const retiring = this.#retiring.get(kid);
    return retiring !== undefined && retiring.until > now ? retiring.key : undefined;
  }

  /** The JWK Set (RFC 7517 §5) served at `/.well-known/jwks.json`: public members only. */
  jwks(now = Date.now()): { keys: JWK[] } {
    return { keys: this.#published(now).map((key) => ({ ...key.publicJwk })) };
  }

  #published(now: number): SigningKey[] {
    for (const [kid, { until }] of this.#retiring) if (until <= now) this.#retiring.delete(kid);
    return [...this.#byKid.values(), ...[...this.#retiring.values()].map((r) => r.key)];
  }
}
