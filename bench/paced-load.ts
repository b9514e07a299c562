/**
 * The fixed-rate load generator of bench/run.ts (bench/paced.ts), in its own
 * process as bench/load.ts runs autocannon: the server's `process.cpuUsage()`
 * then counts the server's CPU time only.
 */
import { pacedLoad, type PacedOptions } from './paced.js';

process.once('message', (options: PacedOptions) => {
  void pacedLoad(options).then((figures) => process.send?.(figures, () => process.exit(0)));
});
