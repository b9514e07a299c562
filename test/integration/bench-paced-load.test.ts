/**
 * The paced load generator of `npm run bench` (bench/paced.ts, run in its own
 * process through bench/paced-load.ts as bench/run.ts runs it) against a local
 * mTLS server: every request is sent, evenly over the run, on the given number
 * of connections, with its whole body; and a server that stalls shows in p99,
 * because latency runs from each request's due time. The time bounds are
 * generous: they check the measurement method, not the machine's speed.
 */
import { fork } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percentile, type PacedFigures, type PacedOptions } from '../../bench/paced.js';
import { createTestPki, type TestPki } from '../helpers/vault.js';

const BODY = 'grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=fake';
const RATE = 200;
const CONNECTIONS = 4;

let pki: TestPki;
let server: Server;
let url: string;
/** performance.timeOrigin + performance.now() at each request's arrival, in arrival order. */
let arrivals: number[] = [];
const sockets = new Set<unknown>();
/** Arrival index (0-based, warm-up requests included) of the request to hold up, and for how long. */
let stall: { at: number; ms: number } | undefined;

beforeAll(async () => {
  pki = await createTestPki();
  server = createServer(
    {
      cert: await readFile(join(pki.dir, 'server.crt')),
      key: await readFile(join(pki.dir, 'server.key')),
      ca: pki.ca,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      const index = arrivals.push(performance.timeOrigin + performance.now()) - 1;
      sockets.add(req.socket);
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        // A stall of the whole server (its event loop blocked, as by a long GC pause), not of one connection.
        if (stall && index === stall.at) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, stall.ms);
        const good = req.method === 'POST' && req.headers['content-type'] === 'application/x-www-form-urlencoded' && body === BODY;
        res.writeHead(good ? 200 : 400, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: good, pad: 'x'.repeat(2000) }));
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/exchange`;
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await rm(pki.dir, { recursive: true, force: true });
});

/** One run of the generator in its own process, as bench/run.ts forks it. */
async function run(seconds: number): Promise<PacedFigures> {
  arrivals = [];
  sockets.clear();
  const child = fork(fileURLToPath(new URL('../../bench/paced-load.ts', import.meta.url)), { execArgv: ['--import', 'tsx'] });
  const options: PacedOptions = {
    url,
    tls: { ca: pki.ca, cert: pki.gateway.cert, key: pki.gateway.key },
    method: 'POST',
    body: BODY,
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    connections: CONNECTIONS,
    rate: RATE,
    seconds,
  };
  return new Promise<PacedFigures>((resolve, reject) => {
    child.once('message', (figures) => resolve(figures as PacedFigures));
    child.once('exit', (code) => reject(new Error(`paced load generator exited with ${code}`)));
    child.send(options);
  });
}

describe('bench/paced.ts', () => {
  it('takes the nearest-rank percentile, in ms with 2 decimals', () => {
    const samples = Float64Array.from({ length: 100 }, (_, i) => i + 1.004);
    // Rank ⌈p/100 × n⌉ (1-based): the 50th sample is 50.004, the 99th 99.004.
    expect(percentile(samples, 50)).toBe(50);
    expect(percentile(samples, 99)).toBe(99);
    expect(percentile(new Float64Array(0), 99)).toBeNaN();
  });

  it('sends every request, evenly over the run, on every connection, each answered 2xx', async () => {
    stall = undefined;
    const figures = await run(1);
    expect(figures).toMatchObject({ total: RATE, non2xx: 0, errors: 0, warmup: CONNECTIONS });
    // One request per connection opened it before t0; the rest are the paced ones.
    expect(arrivals).toHaveLength(RATE + CONNECTIONS);
    expect(sockets.size).toBe(CONNECTIONS);
    const paced = arrivals.slice(CONNECTIONS);
    const start = paced[0]!;
    const perWindow = new Map<number, number>();
    for (const at of paced) perWindow.set(Math.floor((at - start) / 100), (perWindow.get(Math.floor((at - start) / 100)) ?? 0) + 1);
    // 20 requests are due in each 100 ms window; a burst would put far more into one.
    expect(Math.max(...perWindow.values())).toBeLessThanOrEqual(40);
    expect(paced.at(-1)! - start).toBeGreaterThan(900);
  });

  it('counts a stalled server in p99: latency runs from the due time, not from the send', async () => {
    // The 50th paced request blocks the server for 300 ms: the ~60 requests due meanwhile wait.
    stall = { at: CONNECTIONS + 50, ms: 300 };
    const figures = await run(1);
    expect(figures).toMatchObject({ total: RATE, non2xx: 0, errors: 0 });
    expect(figures.p99).toBeGreaterThanOrEqual(250);
    expect(figures.p50).toBeLessThan(figures.p99);
  });
});
