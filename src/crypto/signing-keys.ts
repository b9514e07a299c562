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
  readonly #byKid = new Map<string, SigningKey>();

  /**
   * @param active signs new tokens.
   * @param previous no longer sign, but verify tokens issued before a rotation.
   */
  constructor(
    readonly active: SigningKey,
    previous: readonly SigningKey[] = [],
  ) {
    for (const key of [active, ...previous]) {
      if (this.#byKid.has(key.kid)) throw new TypeError(`duplicate signing key ${key.kid}`);
      this.#byKid.set(key.kid, key);
    }
  }

  /** The key with this `kid`, active or previous. */
  get(kid: string): SigningKey | undefined {
    return this.#byKid.get(kid);
  }

  /** The JWK Set (RFC 7517 §5) served at `/.well-known/jwks.json`: public members only. */
  jwks(): { keys: JWK[] } {
    return { keys: [...this.#byKid.values()].map((key) => ({ ...key.publicJwk })) };
  }
}
