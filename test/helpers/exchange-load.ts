/**
 * Continuous /exchange load against one vault: `loops` request loops, each on
 * its own keep-alive mTLS connection (so a request is never queued in the
 * client and its send time is when it left) and pausing `pauseMs` between
 * answer and next request, every answer recorded with the time its request
 * was sent.
 */
import { Agent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { call } from './https-client.js';
import type { TestPki } from './vault.js';

export interface Shot {
  /** performance.now() when the request was sent. */
  sentAt: number;
  status: number;
  body: unknown;
  /** The answer's `x-request-id` header. */
  requestId?: string;
}

export interface ExchangeLoad {
  /** Answers so far, in completion order. */
  readonly shots: readonly Shot[];
  /** Stop sending, wait for the requests in flight, close the connections. */
  stop(): Promise<Shot[]>;
}

export function startExchangeLoad(internalUrl: string, pki: TestPki, body: string, loops = 4, pauseMs = 0): ExchangeLoad {
  const agent = new Agent({ keepAlive: true, maxSockets: loops, ca: pki.ca, cert: pki.gateway.cert, key: pki.gateway.key });
  const shots: Shot[] = [];
  let running = true;
  const loop = async () => {
    while (running) {
      const sentAt = performance.now();
      try {
        const res = await call(`${internalUrl}/exchange`, {
          method: 'POST',
          ca: pki.ca,
          client: pki.gateway,
          agent,
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body,
        });
        shots.push({ sentAt, status: res.status, body: res.json(), requestId: String(res.headers['x-request-id']) });
      } catch (err) {
        shots.push({ sentAt, status: 0, body: String(err) });
      }
      if (pauseMs > 0) await sleep(pauseMs);
    }
  };
  const done = Promise.all(Array.from({ length: loops }, loop));
  return {
    shots,
    async stop() {
      running = false;
      await done;
      agent.destroy();
      return shots;
    },
  };
}
