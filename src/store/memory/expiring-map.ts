/**
 * A Map whose entries vanish once their deadline passes, judged lazily against
 * Date.now() on every read, the way Redis treats a key past its PX deadline.
 */
export class ExpiringMap<V> {
  readonly #entries = new Map<string, { value: V; expiresAt: number }>();

  set(key: string, value: V, ttlMs: number): void {
    this.#entries.set(key, { value, expiresAt: Date.now() + ttlMs });
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  delete(key: string): boolean {
    return this.get(key) !== undefined && this.#entries.delete(key);
  }
}
