/**
 * One store budget per request, so a stalled store fails a request once, not once per wait.
 *
 * Every store call of a request (and every wait for its audit record) is bounded by
 * `timeoutMs`, counted (for a store that reports its answers, src/store/liveness.ts) only while the
 * process waits idle and the store answers nothing at all: a call queued behind a burst on a busy
 * process waits its turn while the store keeps answering others, and fails once the store has
 * been silent that long.
 * Once one of them has failed as unavailable, every later wait of the same request
 * is bounded by that moment plus `marginMs`. A request that meets a stalled Redis is answered
 * 503 about `timeoutMs + marginMs` after its first store call, however many store calls,
 * retries and audit writes it would still have made.
 *
 * A deadline is checked only after the event loop has polled for I/O again (a timer, then two
 * setImmediate turns): when the process is busy (a burst of TLS handshakes), an answer that has already
 * arrived is taken rather than called late. So only a store that really does not answer fails.
 *
 * Work started on behalf of many requests (the audit writer's appends, a rotation's retries)
 * runs `detached` from the request that happened to start it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { StoreUnavailableError } from './errors.js';
import type { StoreLiveness } from './liveness.js';

interface Budget {
  readonly timeoutMs: number;
  readonly marginMs: number;
  /** performance.now() of the first unavailable store wait of this request. */
  failedAt: number | undefined;
}

const current = new AsyncLocalStorage<Budget>();

/** What a request may still wait once its store has failed once: small, against stacked waits. */
export const STORE_BUDGET_MARGIN_MS = 50;

/** Gives the rest of the current request (its continuations) a budget of its own. */
export function enterStoreBudget(timeoutMs: number, marginMs = STORE_BUDGET_MARGIN_MS): void {
  current.enterWith({ timeoutMs, marginMs, failedAt: undefined });
}

/** Runs `work` outside any request's budget (shared background work). */
export function detached<T>(work: () => T): T {
  return current.exit(work);
}

/**
 * Runs `check` once the event loop has polled for I/O again after this moment. One setImmediate
 * is not enough: it runs right after the poll phase in progress, and when that phase was long (a
 * burst of TLS handshakes) the store's answers that arrived during it are still unread; the
 * second one runs after the next poll, which reads them.
 */
function afterFreshPoll(check: () => void): void {
  setImmediate(() => setImmediate(check));
}

/** How one store wait is bounded (withinBudget). */
export interface BudgetOptions {
  /** The deadline outside a request (background work), when given. */
  fallbackMs?: number | undefined;
  /**
   * Bounded only once the request's store has failed (a wait on shared work, such as a
   * group-committed audit append, that is slow only because the process is busy).
   */
  afterFailureOnly?: boolean | undefined;
  /**
   * The store's answers: the deadline then counts only time the process waited idle while the store
   * answered nothing at all (src/store/liveness.ts), so a call queued behind a busy process is not
   * failed while the store keeps answering. Without it, the deadline counts wall-clock time from the call.
   */
  liveness?: StoreLiveness | undefined;
}

/**
 * `work`, or StoreUnavailableError once the request's budget (else `fallbackMs`, when given) is
 * spent. The work itself goes on: a write that missed its deadline may still land ("outcome unknown").
 */
export function withinBudget<T>(work: Promise<T>, options: BudgetOptions = {}): Promise<T> {
  const { fallbackMs, afterFailureOnly = false, liveness } = options;
  const budget = current.getStore();
  const started = performance.now();
  let limit: number | undefined;
  // Once the request's store has failed, the margin is all that is left: no liveness extension.
  const afterFailure = budget?.failedAt !== undefined;
  if (afterFailure) limit = budget.failedAt! + budget.marginMs;
  else if (afterFailureOnly) limit = undefined;
  else if (budget) limit = started + budget.timeoutMs;
  else if (fallbackMs !== undefined) limit = started + fallbackMs;
  if (limit === undefined) return work;
  const deadlineMs = limit - started;
  const mark = liveness?.mark();
  const spent = () => {
    if (budget && budget.failedAt === undefined) budget.failedAt = performance.now();
  };
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout;
    const arm = (delayMs: number) => {
      timer = setTimeout(
        () =>
          afterFreshPoll(() => {
            if (settled) return;
            // Answers read in this turn count: a store that answered within the deadline is alive.
            const silentMs = liveness && !afterFailure && budget?.failedAt === undefined ? liveness.silentFor(mark!) : deadlineMs;
            if (silentMs < deadlineMs) return arm(deadlineMs - silentMs);
            settled = true;
            spent();
            reject(new StoreUnavailableError('store did not answer within the request budget'));
          }),
        Math.max(0, delayMs),
      );
    };
    arm(deadlineMs);
    work.then(
      (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err instanceof StoreUnavailableError) spent();
        reject(err);
      },
    );
  });
}
