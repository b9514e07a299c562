/**
 * An open-loop, evenly paced load generator: the fixed-rate rows of
 * `npm run bench` ("at 50 % of its maximum rate", and the direct path and the
 * relay at the vault's rate in bench/forward.ts). It runs in a child process
 * through bench/paced-load.ts, as autocannon runs through bench/load.ts.
 *
 * Request k is due at t0 + k / rate. A timer wakes at each due time and
 * issues every request that is due, each on the connection that has been idle
 * longest, or queues it (never drops it) until a connection is free. A
 * request's latency runs from its due time to the last byte of its answer,
 * so time the request spent waiting for a connection (a stalled server) or
 * for this process's own timer counts: the measurement does not coordinate
 * with the server it measures. Percentiles are exact, from every 2xx answer.
 *
 * autocannon's `overallRate` is not used for these rows: it sends each
 * connection's per-second quota back to back, then idles until the next
 * second, and records every answer as if requests were due 1 ms apart, adding
 * synthetic samples to every answer slower than that (bench/RESULTS.md,
 * "p99 at 50 % rate: how it is measured", has the evidence).
 *
 * One undici `Client` per connection (pipelining 1) rather than a `Pool` or
 * node:https's Agent: the scheduler itself picks the free connection, so all
 * `connections` keep-alive connections are used in turn as autocannon's are
 * (a Pool or an Agent opens another connection only when the open ones are
 * busy). Its own CPU per request is higher than autocannon's bursts (each
 * request wakes it on its own), so its row says how late it noticed requests
 * due: the part of the latency that is the generator's.
 */
import { createSecureContext } from 'node:tls';
import { Client } from 'undici';

export interface PacedOptions {
  url: string;
  /** The client certificate and the CA of the server's (https only). */
  tls?: { ca: string; cert: string; key: string };
  method: 'GET' | 'POST';
  body?: string;
  headers: Record<string, string>;
  connections: number;
  /** Requests per second over all connections. */
  rate: number;
  seconds: number;
  /** Headers and body timeout per request, ms (an expired request counts as an error). */
  timeoutMs?: number;
}

/** The shape bench/load.ts reports for autocannon, plus what only this generator knows. */
export interface PacedFigures {
  /** Answers per second over the run (from t0 to the last answer, at least `seconds`). */
  rps: number;
  /** Answers (any status) to the paced requests. */
  total: number;
  /** Latency from due time to the end of the answer, ms, 2 decimals, over the 2xx answers. */
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** Requests sent before t0 to open each connection (one per connection), not in the figures above. */
  warmup: number;
  /**
   * p99 of how late this process noticed that a request was due, ms: its own timer and event loop
   * (a starved generator), not the wait for a free connection (a slow server), which the latency has.
   */
  lagP99: number;
}

/** Nearest-rank percentile of sorted samples, ms with 2 decimals (NaN when there are none). */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return Math.round(sorted[rank - 1]! * 100) / 100;
}

export async function pacedLoad(options: PacedOptions): Promise<PacedFigures> {
  const target = new URL(options.url);
  const path = `${target.pathname}${target.search}`;
  const timeout = options.timeoutMs ?? 10_000;
  // One TLS context for every connection: building it per connection would parse the PEMs each time.
  const secureContext = target.protocol === 'https:' && options.tls ? createSecureContext(options.tls) : undefined;
  const clients = Array.from(
    { length: options.connections },
    () =>
      new Client(target.origin, {
        pipelining: 1,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        ...(secureContext ? { connect: { secureContext } } : {}),
      }),
  );
  const planned = Math.max(0, Math.round(options.rate * options.seconds));
  const latencies = new Float64Array(planned);
  const lags = new Float64Array(planned);
  let answered = 0;
  let ok = 0;
  let non2xx = 0;
  let errors = 0;

  /** One request on one connection; resolves with its status, or 0 on an error. */
  const send = async (client: Client): Promise<number> => {
    try {
      const response = await client.request({
        path,
        method: options.method,
        headers: options.headers,
        ...(options.body !== undefined ? { body: options.body } : {}),
      });
      // Read the whole body: the answer has arrived when its last byte has.
      for await (const chunk of response.body) void chunk;
      return response.statusCode;
    } catch {
      return 0;
    }
  };
  const count = (status: number) => {
    if (status === 0) errors++;
    else if (status < 200 || status >= 300) non2xx++;
  };

  try {
    // Open every connection (TCP + TLS handshake) before t0, so no paced request pays for one.
    // (The callers check beforehand that the target answers 2xx; these answers are not counted.)
    await Promise.all(clients.map(send));

    const interval = 1000 / options.rate;
    const free = [...clients];
    let due = 0; // requests whose due time has come
    let issued = 0; // of those, the ones handed to a connection
    let lastAnswer = 0;
    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const t0 = performance.now();

    const dispatch = () => {
      while (issued < due && free.length > 0) {
        const k = issued++;
        const dueAt = t0 + k * interval;
        const client = free.shift()!;
        void send(client).then((status) => {
          const end = performance.now();
          lastAnswer = end;
          if (status !== 0) answered++;
          if (status >= 200 && status < 300) latencies[ok++] = end - dueAt;
          count(status);
          free.push(client);
          if (answered + errors === planned) finish();
          else dispatch();
        });
      }
    };
    const tick = () => {
      const now = performance.now();
      for (; due < planned && t0 + due * interval <= now; due++) lags[due] = now - (t0 + due * interval);
      dispatch();
      if (due < planned) setTimeout(tick, t0 + due * interval - performance.now());
    };
    if (planned === 0) finish();
    else tick();
    await finished;

    const sorted = latencies.subarray(0, ok).sort();
    const elapsed = Math.max(options.seconds, (lastAnswer - t0) / 1000);
    return {
      rps: answered / elapsed,
      total: answered,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      non2xx,
      errors,
      warmup: clients.length,
      lagP99: percentile(lags.sort(), 99),
    };
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}
