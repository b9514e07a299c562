/**
 * Versioned key-encryption keys (KEKs).
 *
 * One key is active for new writes; the others stay decrypt-only until a
 * rewrap job (src/grants/rewrap-job.ts) has moved every record (docs/architecture.md#secrets-at-rest).
 */

/** Length of a KEK: an XChaCha20-Poly1305 key (RFC 8439 §2.8, draft-irtf-cfrg-xchacha §2). */
export const KEK_BYTES = 32;

// The id travels in every ciphertext header behind a one-byte length; keep it short and printable.
const KEY_ID = /^[A-Za-z0-9._-]{1,32}$/;

/** One KEK version as loaded from key material. */
export interface KeyringEntry {
  readonly id: string;
  readonly key: Uint8Array;
}

/** Thrown by any key access after {@link Keyring.seal}: the kill switch has dropped the keys. */
export class KeyringSealedError extends Error {
  readonly code = 'TV_KEYRING_SEALED';

  constructor() {
    super('keyring is sealed');
  }

  override get name(): string {
    return 'KeyringSealedError';
  }
}

/**
 * KEKs by id. Holds its own copies of the key bytes so {@link seal} can zero
 * every copy the vault owns.
 */
export class Keyring {
  readonly #keys = new Map<string, Uint8Array>();
  #activeId: string;
  #sealed = false;

  /**
   * @param entries one or more KEK versions (ids unique, keys exactly 32 bytes); bytes are copied.
   * @param activeId the id used for new writes; defaults to the highest numeric id.
   */
  constructor(entries: readonly KeyringEntry[], activeId?: string) {
    if (entries.length === 0) throw new TypeError('keyring needs at least one key');
    for (const { id, key } of entries) {
      if (!KEY_ID.test(id)) throw new TypeError(`invalid key id "${id}"`);
      if (this.#keys.has(id)) throw new TypeError(`duplicate key id "${id}"`);
      if (key.byteLength !== KEK_BYTES) throw new TypeError(`key "${id}" must be ${KEK_BYTES} bytes`);
      this.#keys.set(id, Uint8Array.from(key));
    }
    const active = activeId ?? highestNumericId([...this.#keys.keys()]);
    if (active === undefined) throw new TypeError('no numeric key id: the active key id must be given');
    if (!this.#keys.has(active)) throw new TypeError(`active key id "${active}" is not in the keyring`);
    this.#activeId = active;
  }

  /** Id of the KEK that wraps new data keys. */
  get activeId(): string {
    this.#assertOpen();
    return this.#activeId;
  }

  /**
   * The KEK with this id, or `undefined`. The returned bytes are the keyring's
   * own buffer (zeroed by {@link seal}): use them, never keep them.
   */
  get(id: string): Uint8Array | undefined {
    this.#assertOpen();
    return this.#keys.get(id);
  }

  /** Every KEK id, active or decrypt-only. */
  ids(): string[] {
    return [...this.#keys.keys()];
  }

  /** Zero and drop all key material; every later key access throws {@link KeyringSealedError}. */
  seal(): void {
    for (const key of this.#keys.values()) key.fill(0);
    this.#keys.clear();
    this.#sealed = true;
  }

  /**
   * Take over the keys of `other` (freshly loaded from the keys directory) and
   * seal `other`: unseals a sealed keyring, or makes a new KEK active. Everyone
   * holding this keyring (envelope, readiness) sees the change at once.
   */
  adopt(other: Keyring): void {
    if (other === this) return;
    const entries = [...other.#keys.entries()];
    if (other.#sealed || entries.length === 0) throw new KeyringSealedError();
    for (const key of this.#keys.values()) key.fill(0);
    this.#keys.clear();
    for (const [id, key] of entries) this.#keys.set(id, Uint8Array.from(key));
    this.#activeId = other.#activeId;
    this.#sealed = false;
    other.seal();
  }

  isSealed(): boolean {
    return this.#sealed;
  }

  #assertOpen(): void {
    if (this.#sealed) throw new KeyringSealedError();
  }
}

function highestNumericId(ids: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const id of ids) {
    if (!/^\d+$/.test(id)) continue;
    if (best === undefined || BigInt(id) > BigInt(best)) best = id;
  }
  return best;
}
