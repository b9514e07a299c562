/**
 * The load generator of bench/run.ts, in its own process: the server's
 * `process.cpuUsage()` then counts the server's CPU time only, which, unlike
 * req/s or wall-clock busy time, a shared VM's steal time does not inflate.
 */
import autocannon from 'autocannon';

process.once('message', (options: autocannon.Options) => {
  void autocannon(options).then((result) => {
    process.send?.(
      {
        rps: result.requests.average,
        total: result.requests.total,
        p50: result.latency.p50,
        p99: result.latency.p99,
        non2xx: result.non2xx,
        errors: result.errors,
      },
      () => process.exit(0),
    );
  });
});
