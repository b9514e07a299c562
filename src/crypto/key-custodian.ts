/**
 * The in-memory key material of this replica, under admin control:
 * - the global kill switch seals it (KEKs zeroed; `/readyz` reports keys fail,
 *   nothing can be decrypted) and releasing the switch unseals it by reading
 *   the keys directory again (the zeroed bytes are gone for good);
 * - a reload picks up new `kek-N` / `signing-N` files: the highest becomes
 *   active; signing keys that vanished stay published in the JWKS for
 *   `retainSigningKeyMs` (the longest operation-token TTL) so every token they
 *   signed still verifies until it has expired.
 *
 * Holders of `keys.keyring` and `keys.signingKeys` (envelope, exchange, JWKS)
 * see every change at once: the objects are updated in place.
 */
import { loadKeyMaterial, type KeyMaterial } from './key-files.js';

/** Operation tokens live at most 15 min (the `maxTtlSeconds` ceiling in src/providers/schema.ts). */
export const MAX_OPERATION_TOKEN_TTL_MS = 15 * 60_000;

export interface KeyStatus {
  sealed: boolean;
  kek: { ids: string[]; active: string | null };
  signing: { active: string; previous: string[] };
}

export interface KeyCustodianOptions {
  keys: KeyMaterial;
  dir: string;
  retainSigningKeyMs?: number;
  now?: () => number;
}

export class KeyCustodian {
  readonly #keys: KeyMaterial;
  readonly #dir: string;
  readonly #retainMs: number;
  readonly #now: () => number;
  /** Serialises seal/unseal/reload: a release racing a re-engage must not leave keys loaded. */
  #tail: Promise<unknown> = Promise.resolve();

  constructor(options: KeyCustodianOptions) {
    this.#keys = options.keys;
    this.#dir = options.dir;
    this.#retainMs = options.retainSigningKeyMs ?? MAX_OPERATION_TOKEN_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The hook for whoever learns the global switch's state (admin API on this
   * replica, the pub/sub watcher and the enforcement cache on every replica):
   * engaged seals, released unseals. Idempotent.
   */
  onGlobalKill(engaged: boolean): Promise<void> {
    return this.#serial(async () => {
      if (engaged) {
        this.#keys.keyring.seal();
      } else if (this.#keys.keyring.isSealed()) {
        await this.#load();
      }
    });
  }

  /** Re-read the keys directory (new KEK / signing key files become active). Refused while sealed. */
  reload(): Promise<KeyStatus> {
    return this.#serial(async () => {
      if (this.#keys.keyring.isSealed()) throw new KeysSealedError();
      await this.#load();
      return this.status();
    });
  }

  status(): KeyStatus {
    const { keyring, signingKeys } = this.#keys;
    const sealed = keyring.isSealed();
    return {
      sealed,
      kek: { ids: keyring.ids().sort(byNumber), active: sealed ? null : keyring.activeId },
      signing: { active: signingKeys.active.kid, previous: signingKeys.previousKids(this.#now()) },
    };
  }

  async #load(): Promise<void> {
    const fresh = await loadKeyMaterial(this.#dir);
    this.#keys.keyring.adopt(fresh.keyring);
    this.#keys.signingKeys.adopt(fresh.signingKeys, this.#retainMs, this.#now());
    fresh.auditHmacKey.fill(0);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(fn, fn);
    this.#tail = next.catch(() => {});
    return next;
  }
}

/** A key operation that needs the keys while the global kill switch holds them sealed. */
export class KeysSealedError extends Error {
  override name = 'KeysSealedError';
  readonly code = 'TV_KEYS_SEALED';
}

function byNumber(a: string, b: string): number {
  return Number(a) - Number(b) || a.localeCompare(b);
}
