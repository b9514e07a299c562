/**
 * Verified identity tokens, keyed by the SHA-256 of the token, kept until the
 * token's own `exp` (never longer). Bounded: the oldest entry goes first.
 * Why: signature verification dominates an uncached exchange (bench/RESULTS.md).
 */
import { hash } from 'node:crypto';

interface Entry<T> {
  value: T;
  expiresAtMs: number;
}

export class VerifiedTokenCache<T> {
  readonly #entries = new Map<string, Entry<T>>();

  constructor(
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  static keyOf(kind: string, token: string): string {
    // One-shot hash (no Hash object): about half the cost of createHash on ~1 KB tokens.
    return hash('sha256', `${kind}\0${token}`, 'base64url');
  }

  get(key: string): T | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAtMs <= this.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: T, expiresAtMs: number): void {
    if (expiresAtMs <= this.now()) return;
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, expiresAtMs });
  }

  get size(): number {
    return this.#entries.size;
  }
}
