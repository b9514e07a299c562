import type { PendingRevocation, RevocationQueue } from '../revocation-queue.js';

const bySchedule = (a: PendingRevocation, b: PendingRevocation) => a.nextAttemptAt - b.nextAttemptAt || a.id.localeCompare(b.id);

/** In-memory RevocationQueue; claims are synchronous, so two workers cannot take one item. */
export class MemoryRevocationQueue implements RevocationQueue {
  readonly #items = new Map<string, PendingRevocation>();

  async enqueue(item: PendingRevocation): Promise<void> {
    this.#items.set(item.id, { ...item });
  }

  async claimDue(now: number, limit: number, leaseMs: number): Promise<PendingRevocation[]> {
    const due = [...this.#items.values()]
      .filter((i) => i.nextAttemptAt <= now)
      .sort(bySchedule)
      .slice(0, Math.max(0, limit));
    for (const item of due) item.nextAttemptAt = now + leaseMs;
    return due.map((i) => ({ ...i }));
  }

  async reschedule(id: string, attempts: number, nextAttemptAt: number, lastError: string): Promise<void> {
    const item = this.#items.get(id);
    if (item) Object.assign(item, { attempts, nextAttemptAt, lastError });
  }

  async complete(id: string): Promise<void> {
    this.#items.delete(id);
  }

  async list(): Promise<PendingRevocation[]> {
    return [...this.#items.values()].sort(bySchedule).map((i) => ({ ...i }));
  }
}
