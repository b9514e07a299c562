/**
 * Delivers queued webhook messages (emitter.ts) through the SSRF-guarded outbound client
 * (src/net/outbound.ts), signed per Standard Webhooks, at least once: a delivery is leased while
 * it is attempted, a 2xx ends it, anything else (an error status, a refused connection, the
 * deadline) retries it after a doubling, jittered delay until `maxAttempts`, then it is dead and
 * stays listed for the admin API. Each endpoint has its own lane of `concurrency` attempts, so a
 * slow or dead endpoint never holds up another's. Several processes may run it: claims are leased.
 */
import type { FastifyBaseLogger } from 'fastify';
import { randomUUID } from 'node:crypto';
import { OutboundError, outboundFetch } from '../net/outbound.js';
import type { WebhookDelivery, WebhookQueue } from '../store/webhook-queue.js';
import type { WebhookMetrics } from './emitter.js';
import type { WebhookEndpoint } from './endpoints.js';
import { webhookHeaders } from './signature.js';

export interface DeliveryWorkerDeps {
  queue: WebhookQueue;
  endpoints: readonly WebhookEndpoint[];
  log: FastifyBaseLogger;
  timeoutMs: number;
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  concurrency: number;
  intervalMs: number;
  metrics?: WebhookMetrics | undefined;
  now?: () => number;
  random?: () => number;
}

export interface DeliveryWorker {
  start(): void;
  /** One pass over every endpoint; resolves when the attempts it started have ended (tests, shutdown). */
  runOnce(): Promise<void>;
  stop(): Promise<void>;
}

/** Receivers answer with a status, not a document: anything larger is not worth reading. */
const MAX_ANSWER_BYTES = 64 * 1024;

interface Lane {
  endpoint: WebhookEndpoint;
  send: ReturnType<typeof outboundFetch>;
  inflight: Set<Promise<void>>;
  claiming: boolean;
}

export function createDeliveryWorker(deps: DeliveryWorkerDeps): DeliveryWorker {
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  // Long enough for one attempt and its bookkeeping; a process that dies frees its deliveries after it.
  const leaseMs = 2 * deps.timeoutMs + 5_000;
  const lanes: Lane[] = deps.endpoints.map((endpoint) => ({
    endpoint,
    send: outboundFetch({
      allowPrivateNetwork: endpoint.allowPrivateNetwork,
      timeoutMs: deps.timeoutMs,
      maxResponseBytes: MAX_ANSWER_BYTES,
      ...(endpoint.ca !== undefined && { ca: endpoint.ca }),
    }),
    inflight: new Set(),
    claiming: false,
  }));
  let timer: NodeJS.Timeout | undefined;

  /** Doubling from baseDelayMs, capped, then "equal jitter": between half and all of it. */
  const delayAfter = (attempts: number) => {
    const full = Math.min(deps.baseDelayMs * 2 ** (attempts - 1), deps.maxDelayMs);
    return Math.round(full / 2 + (random() * full) / 2);
  };

  async function post(lane: Lane, d: WebhookDelivery): Promise<string | undefined> {
    const headers = { 'content-type': 'application/json', ...webhookHeaders(lane.endpoint.key, d.messageId, Math.floor(now() / 1000), d.body) };
    try {
      const res = await lane.send(lane.endpoint.url, { method: 'POST', headers, body: d.body });
      return res.status >= 200 && res.status < 300 ? undefined : `http_${res.status}`;
    } catch (err) {
      return err instanceof OutboundError ? err.reason : 'error';
    }
  }

  async function attempt(lane: Lane, d: WebhookDelivery, lease: string): Promise<void> {
    const { queue, log, metrics } = deps;
    const error = await post(lane, d);
    const at = now();
    const ids = { delivery: d.id, webhook: d.event, endpoint: d.endpoint, attempts: d.attempts };
    try {
      if (error === undefined) {
        if (await queue.finish(d.id, lease, { status: 'delivered', at })) metrics?.delivery(d.event, d.endpoint, 'delivered');
      } else if (d.attempts >= deps.maxAttempts) {
        if (await queue.finish(d.id, lease, { status: 'dead', at, error })) metrics?.delivery(d.event, d.endpoint, 'dead');
        log.error({ ...ids, reason: error }, 'webhook delivery given up');
      } else {
        await queue.finish(d.id, lease, { status: 'pending', at, error, nextAttemptAt: at + delayAfter(d.attempts) });
        metrics?.delivery(d.event, d.endpoint, 'retried');
        log.warn({ ...ids, reason: error }, 'webhook delivery failed; will retry');
      }
    } catch (err) {
      // Store unavailable: the lease runs out and the delivery is attempted again (at least once).
      log.error({ ...ids, err: { type: err instanceof Error ? err.name : 'unknown' } }, 'webhook delivery outcome could not be recorded');
    }
  }

  async function fill(lane: Lane): Promise<void> {
    const free = deps.concurrency - lane.inflight.size;
    if (lane.claiming || free <= 0) return;
    lane.claiming = true;
    try {
      const lease = randomUUID();
      const claimed = await deps.queue.claimDue(lane.endpoint.name, now(), free, leaseMs, lease);
      for (const d of claimed) {
        const running: Promise<void> = attempt(lane, d, lease).finally(() => {
          lane.inflight.delete(running);
          // A freed slot takes the next due delivery at once rather than at the next tick.
          if (timer) void fill(lane);
        });
        lane.inflight.add(running);
      }
    } catch (err) {
      deps.log.error({ endpoint: lane.endpoint.name, err: { type: err instanceof Error ? err.name : 'unknown' } }, 'webhook deliveries could not be claimed');
    } finally {
      lane.claiming = false;
    }
  }

  const settle = () => Promise.all(lanes.flatMap((lane) => [...lane.inflight])).then(() => undefined);

  return {
    start() {
      if (lanes.length === 0) return;
      timer ??= setInterval(() => lanes.forEach((lane) => void fill(lane)), deps.intervalMs);
      timer.unref();
    },
    async runOnce() {
      await Promise.all(lanes.map(fill));
      await settle();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await settle();
    },
  };
}
