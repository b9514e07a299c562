/**
 * One store budget per request, so a stalled store fails a request once, not once per wait.
 *
 * Every store call of a request (and every wait for its audit record) is bounded by
 * `timeoutMs`; once one of them has failed as unavailable, every later wait of the same request
 * is bounded by that moment plus `marginMs`. A request that meets a stalled Redis is answered
 * 503 about `timeoutMs + marginMs` after its first store call, however many store calls,
 * retries and audit writes it would still have made.
 *
 * A deadline is checked only after the event loop has read its ready I/O (a timer, then
 * setImmediate): when the process is busy (a burst of TLS handshakes), an answer that has already
 * arrived is taken rather than called late. So only a store that really does not answer fails.
 *
 * Work started on behalf of many requests (the audit writer's appends, a rotation's retries)
 * runs `detached` from the request that happened to start it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { StoreUnavailableError } from './errors.js';

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
 * `work`, or StoreUnavailableError once the request's budget (else `fallbackMs`, when given) is
 * spent. The work itself goes on: a write that missed its deadline may still land ("outcome unknown").
 * `afterFailureOnly`: bounded only once the request's store has failed (a wait on shared work,
 * such as a group-committed audit append, that is slow only because the process is busy).
 */
export function withinBudget<T>(work: Promise<T>, fallbackMs?: number, afterFailureOnly = false): Promise<T> {
  const budget = current.getStore();
  const now = performance.now();
  let limit: number | undefined;
  if (budget?.failedAt !== undefined) limit = budget.failedAt + budget.marginMs;
  else if (afterFailureOnly) limit = undefined;
  else if (budget) limit = now + budget.timeoutMs;
  else if (fallbackMs !== undefined) limit = now + fallbackMs;
  if (limit === undefined) return work;
  const spent = () => {
    if (budget && budget.failedAt === undefined) budget.failedAt = performance.now();
  };
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          if (settled) return;
          settled = true;
          spent();
          reject(new StoreUnavailableError('store did not answer within the request budget'));
        }),
      Math.max(0, limit - now),
    );
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
