/**
 * How long a store has really been silent: what tells a store that does not answer (stalled,
 * paused, unreachable) from a process too busy to read its answers in time (a burst of TLS
 * handshakes on a saturated CPU, a long garbage collection).
 *
 * Silence is counted in the event loop's idle time (`performance.eventLoopUtilization()`: time
 * spent waiting for I/O), from the later of the call and the store's last answer. A process
 * waiting on a stalled store is idle, so the count runs at wall-clock speed and the call fails on
 * time; a process busy with other work is not idle, so time it spent not reading answers is not
 * held against the store; and while other calls keep getting answers the count restarts, so a
 * call queued behind a burst waits its turn. The store budget (src/store/budget.ts) reads it.
 */
import { performance } from 'node:perf_hooks';

const idleMs = (): number => performance.eventLoopUtilization().idle;

export class StoreLiveness {
  #lastAnswerIdle = Number.NEGATIVE_INFINITY;

  /** The idle-time clock, for a call starting now (pass it back to silentFor). */
  mark(): number {
    return idleMs();
  }

  /** A call got an answer (a value, or an error Redis itself sent back). */
  answered(): void {
    this.#lastAnswerIdle = idleMs();
  }

  /** Idle milliseconds without any answer, counted from `mark` (a mark() value) at the earliest. */
  silentFor(mark: number): number {
    return idleMs() - Math.max(mark, this.#lastAnswerIdle);
  }
}
