/**
 * What the bench process's event loop went through during one run, for the
 * rows whose server (the vault) runs in this process: how busy the loop was
 * (event-loop utilization), how late its timers ran (monitorEventLoopDelay,
 * sampling every 10 ms, so it adds next to nothing to the vault's CPU) and the
 * garbage collector's pauses, and how long the loop's thread was ready to run
 * but waited for a CPU (Linux: /proc/thread-self/schedstat, the run-queue
 * wait: the machine's other work, the load generator and redis-server
 * included). A tail latency with a
 * busy loop is queueing; one with an idle loop and long pauses is stalls.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';

export interface LoopFigures {
  /** Share of the run the loop spent running callbacks, 0–1. */
  utilization: number;
  delayP99Ms: number;
  delayMaxMs: number;
  gcPauses: number;
  gcTotalMs: number;
  gcMaxMs: number;
  /** Time the loop's thread was runnable but not running, ms (NaN where the kernel does not say). */
  cpuWaitMs: number;
}

/** Nanoseconds this thread has waited on a run queue (the second field of schedstat). */
function runQueueWaitNs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]);
  } catch {
    return NaN;
  }
}

/** Starts watching; the returned function stops and reports. */
export function watchLoop(): () => LoopFigures {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  const pauses: number[] = [];
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) pauses.push(entry.duration);
  });
  gc.observe({ entryTypes: ['gc'] });
  delay.enable();
  const start = performance.eventLoopUtilization();
  const waitedBefore = runQueueWaitNs();
  return () => {
    const { utilization } = performance.eventLoopUtilization(start);
    const cpuWaitMs = (runQueueWaitNs() - waitedBefore) / 1e6;
    delay.disable();
    gc.disconnect();
    return {
      utilization,
      delayP99Ms: delay.percentile(99) / 1e6,
      delayMaxMs: delay.max / 1e6,
      gcPauses: pauses.length,
      gcTotalMs: pauses.reduce((sum, ms) => sum + ms, 0),
      gcMaxMs: Math.max(0, ...pauses),
      cpuWaitMs,
    };
  };
}

export const loopFig = (f: LoopFigures) =>
  `event loop ${(f.utilization * 100).toFixed(0)} % busy, delay p99 ${f.delayP99Ms.toFixed(1)} ms (max ${f.delayMaxMs.toFixed(1)}), GC ${f.gcPauses} pauses, ${f.gcTotalMs.toFixed(0)} ms in all, longest ${f.gcMaxMs.toFixed(1)} ms, ${f.cpuWaitMs.toFixed(0)} ms waiting for a CPU`;
