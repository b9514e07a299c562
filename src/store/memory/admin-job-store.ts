import type { AdminJobStore } from '../admin-job-store.js';

/** In-memory AdminJobStore. */
export class MemoryAdminJobStore implements AdminJobStore {
  readonly #jobs = new Map<string, string>();

  async load(job: string): Promise<string | null> {
    return this.#jobs.get(job) ?? null;
  }

  async save(job: string, state: string): Promise<void> {
    this.#jobs.set(job, state);
  }
}
