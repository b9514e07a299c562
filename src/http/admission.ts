/**
 * Admission in front of a route's work: at most `concurrency` requests run it at once, up to
 * `queue` more wait their turn (first come, first served) for at most `maxWaitMs`. A burst on a
 * busy process then waits in line instead of having all of its store calls and audit writes in
 * flight at once, each racing its deadline; 503 + Retry-After only when the line is full or too
 * slow. The wait is not part of a request's store budget (src/store/budget.ts): that starts with
 * each store call.
 */
import { TemporarilyUnavailable } from '../errors.js';

export interface AdmissionOptions {
  concurrency: number;
  queue: number;
  maxWaitMs: number;
}

interface Waiter {
  admit: () => void;
  timer: NodeJS.Timeout;
}

export class Admission {
  #running = 0;
  readonly #waiting: Waiter[] = [];

  constructor(private readonly options: AdmissionOptions) {}

  /** Requests running and waiting (metrics, tests). */
  get load(): { running: number; waiting: number } {
    return { running: this.#running, waiting: this.#waiting.length };
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running >= this.options.concurrency) await this.#wait();
    else this.#running += 1;
    try {
      return await work();
    } finally {
      this.#release();
    }
  }

  #wait(): Promise<void> {
    if (this.#waiting.length >= this.options.queue) return Promise.reject(new TemporarilyUnavailable('admission queue full'));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        // The slot is handed over by #release (the running count stays the same).
        admit: () => {
          clearTimeout(waiter.timer);
          resolve();
        },
        timer: setTimeout(() => {
          const i = this.#waiting.indexOf(waiter);
          if (i >= 0) this.#waiting.splice(i, 1);
          reject(new TemporarilyUnavailable('waited too long for admission'));
        }, this.options.maxWaitMs),
      };
      this.#waiting.push(waiter);
    });
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next.admit();
    else this.#running -= 1;
  }
}
