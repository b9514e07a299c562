/** The part of autocannon's programmatic API the benchmark uses (the package ships no types). */
declare module 'autocannon' {
  namespace autocannon {
    interface Options {
      url: string;
      connections?: number;
      duration?: number;
      /** Requests to send in all, instead of a duration. */
      amount?: number;
      workers?: number;
      /** Requests per second over all connections (a fixed rate instead of as fast as possible). */
      overallRate?: number;
      method?: string;
      body?: string;
      headers?: Record<string, string>;
      tlsOptions?: { ca?: string; cert?: string; key?: string };
    }
    interface Histogram {
      average: number;
      p50: number;
      p99: number;
    }
    interface Result {
      requests: Histogram & { total: number };
      latency: Histogram;
      non2xx: number;
      errors: number;
    }
  }
  function autocannon(options: autocannon.Options): Promise<autocannon.Result>;
  export default autocannon;
}
