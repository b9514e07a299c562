/**
 * Time to recover after a Redis outage, shared by test/integration/resilience/fail-fast.test.ts
 * (generous bounds) and bench/resilience.ts (the exact figures): one caller per vault replica
 * keeps calling through the outage; Redis is paused (SIGSTOP) or killed for `outageMs`, then each
 * replica's first 200 after Redis answers again is timed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisHandle } from './redis-server.js';

export interface RecoveryOptions<R extends { status: number }> {
  redis: Pick<RedisHandle, 'pause' | 'resume' | 'kill' | 'restart'>;
  outage: 'paused' | 'killed';
  /** One per replica: a single request (e.g. an exchange over a kept-alive agent). */
  callers: ReadonlyArray<() => Promise<R>>;
  /** Every answer other than a 200 (the test's check of each 503). */
  onAnswer?: (answer: R, replica: number) => void;
  outageMs?: number;
  /** Calls made before the outage starts. */
  warmupMs?: number;
  pauseBetweenMs?: number;
  giveUpMs?: number;
}

/** Milliseconds from Redis answering again to each replica's first 200 (Infinity: none within `giveUpMs`). */
export async function timeRecovery<R extends { status: number }>(opts: RecoveryOptions<R>): Promise<number[]> {
  const { redis, outage, callers } = opts;
  let back = Infinity;
  const firstOk = callers.map(() => Infinity);
  let running = true;
  const loops = callers.map(async (callOnce, i) => {
    while (running && firstOk[i] === Infinity) {
      const answer = await callOnce();
      if (answer.status === 200 && performance.now() > back) firstOk[i] = performance.now();
      else if (answer.status !== 200) opts.onAnswer?.(answer, i);
      await sleep(opts.pauseBetweenMs ?? 10);
    }
  });
  await sleep(opts.warmupMs ?? 0);
  if (outage === 'paused') redis.pause();
  else await redis.kill();
  await sleep(opts.outageMs ?? 3_000);
  if (outage === 'paused') redis.resume();
  else await redis.restart();
  back = performance.now();
  await Promise.race([Promise.all(loops), sleep(opts.giveUpMs ?? 10_000)]);
  running = false;
  await Promise.all(loops);
  return firstOk.map((t) => t - back);
}
