/**
 * prom-client's default metrics (process_*, nodejs_*) describe the process, not one app: they
 * are registered once per process, on first use, and every app's scrape includes them. Per-app
 * registration would add an event-loop monitor and a GC observer for every app a test builds.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

let registry: Registry | undefined;

export function processMetricsText(): Promise<string> {
  if (registry === undefined) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
  }
  return registry.metrics();
}
