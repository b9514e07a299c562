import { describe, expect, it } from 'vitest';
import { withinBudget } from '../../../src/store/budget.js';
import { StoreUnavailableError } from '../../../src/store/errors.js';
import { StoreLiveness } from '../../../src/store/liveness.js';

const DEADLINE_MS = 50;
const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));
const never = () => new Promise<never>(() => {});
/** Keeps the event loop's thread busy (not idle) for `ms`. */
const spin = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe('store budget with liveness', () => {
  it('fails a call once the store has answered nothing for the deadline while the process waited', async () => {
    const liveness = new StoreLiveness();
    await expect(withinBudget(never(), { fallbackMs: DEADLINE_MS, liveness })).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('fails it on the wall clock without liveness', async () => {
    await expect(withinBudget(later(4 * DEADLINE_MS, 'late'), { fallbackMs: DEADLINE_MS })).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('waits for a slow answer while the store keeps answering other calls', async () => {
    const liveness = new StoreLiveness();
    const others = setInterval(() => liveness.answered(), DEADLINE_MS / 5);
    try {
      await expect(withinBudget(later(4 * DEADLINE_MS, 'queued'), { fallbackMs: DEADLINE_MS, liveness })).resolves.toBe('queued');
    } finally {
      clearInterval(others);
    }
  });

  it('does not count time the process spent busy against the store', async () => {
    const liveness = new StoreLiveness();
    let answer!: (value: string) => void;
    const call = withinBudget(new Promise<string>((resolve) => (answer = resolve)), { fallbackMs: DEADLINE_MS, liveness });
    // Busy for four deadlines, then the answer comes half a deadline later: the store was silent
    // for half a deadline of waiting, not four and a half.
    spin(4 * DEADLINE_MS);
    setTimeout(() => answer('after a busy spell'), DEADLINE_MS / 2);
    await expect(call).resolves.toBe('after a busy spell');
  });
});
