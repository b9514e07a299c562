/** Admission in front of /exchange: bounded concurrency, first come first served, a bounded line. */
import { describe, expect, it } from 'vitest';
import { TemporarilyUnavailable } from '../../../src/errors.js';
import { Admission } from '../../../src/http/admission.js';

const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
};

describe('admission', () => {
  it('runs at most `concurrency` at once and admits the waiting in arrival order', async () => {
    const admission = new Admission({ concurrency: 2, queue: 10, maxWaitMs: 10_000 });
    const started: number[] = [];
    const gates = Array.from({ length: 5 }, gate);
    const runs = gates.map((g, i) =>
      admission.run(async () => {
        started.push(i);
        await g.opened;
        return i;
      }),
    );
    await Promise.resolve();
    expect(started).toStrictEqual([0, 1]);
    expect(admission.load).toStrictEqual({ running: 2, waiting: 3 });
    gates[1]!.open();
    await runs[1];
    await Promise.resolve();
    expect(started).toStrictEqual([0, 1, 2]);
    for (const g of gates) g.open();
    expect(await Promise.all(runs)).toStrictEqual([0, 1, 2, 3, 4]);
    expect(started).toStrictEqual([0, 1, 2, 3, 4]);
    expect(admission.load).toStrictEqual({ running: 0, waiting: 0 });
  });

  it('refuses with 503 when the line is full or a wait is too long, and frees the slot of a failed run', async () => {
    const admission = new Admission({ concurrency: 1, queue: 1, maxWaitMs: 20 });
    const hold = gate();
    const running = admission.run(() => hold.opened);
    const waiting = admission.run(async () => 'late');
    await expect(admission.run(async () => 'never')).rejects.toStrictEqual(new TemporarilyUnavailable('admission queue full'));
    await expect(waiting).rejects.toStrictEqual(new TemporarilyUnavailable('waited too long for admission'));
    hold.open();
    await running;
    await expect(admission.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await admission.run(async () => 'next')).toBe('next');
    expect(admission.load).toStrictEqual({ running: 0, waiting: 0 });
  });
});
