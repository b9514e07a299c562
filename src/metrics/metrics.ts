/**
 * The vault's Prometheus metrics: one registry per app instance (tests build many apps in one
 * process), the definitions, and the narrow recorders the listeners, stores and domain services
 * are handed. Nothing here imports a domain folder: each recorder method matches an interface
 * its caller declares (http/server.ts, store/store-observer.ts, grants/upstream-access.ts,
 * audit/writer.ts, exchange/routes.ts, forward/routes.ts), and samples computed at scrape time
 * come in as callbacks (app.ts).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BucketHistogram, PlainCounter } from './own-series.js';
import type { Config } from '../config/schema.js';
import { LabelSets, statusLabel } from './labels.js';
import { processMetricsText } from './process-metrics.js';
import type { GrantCounts } from './grant-census.js';

/** Request latencies of a fast service: 1 ms up to 10 s. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Redis commands: sub-millisecond on loopback, 500 ms at most (store.redis.commandTimeoutMs). */
const REDIS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5];
/** Audit group commit: records per append (writer maxBatch is 256). */
const GROUP_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/** What a scrape reads from the running app, computed when asked. */
export interface MetricSamples {
  /** Seconds since the kill-switch snapshot was last confirmed (Infinity before the first). */
  killSwitchSnapshotAgeSeconds?: () => number;
  /** Grants by status, from a bounded sample (grant-census.ts). */
  grantsByStatus?: () => Promise<GrantCounts | null>;
  /** Age in seconds of the oldest audit record not yet archived, per chain (src/audit/archive/). */
  auditArchiveLag?: () => { chain: number; lagSeconds: number }[];
}

type Child = { observe(value: number): void };
type Inc = { inc(value?: number): void };

/** One Map lookup instead of prom-client's per-call label hashing on the hot paths. */
function cached<T>(make: (...values: string[]) => T): (...values: string[]) => T {
  const children = new Map<string, T>();
  return (...values) => {
    const key = values.join('\u0000');
    let child = children.get(key);
    if (child === undefined) children.set(key, (child = make(...values)));
    return child;
  };
}

export class VaultMetrics {
  readonly registry = new Registry();
  readonly labels: LabelSets;
  readonly #http: (...v: string[]) => Child;
  readonly #exchanges: (...v: string[]) => Inc;
  readonly #refresh: (...v: string[]) => Child;
  readonly #tokenCache: (...v: string[]) => Inc;
  readonly #forward: (...v: string[]) => Child;
  readonly #auditAppend: (...v: string[]) => Child;
  readonly #auditGroup: { observe(value: number): void };
  /** The audit queue's depth as last reported; the gauge reads it at scrape time. */
  #auditQueueDepth = 0;
  readonly #redis: (...v: string[]) => Child;
  readonly #redisErrors: (...v: string[]) => Inc;

  constructor(config: Pick<Config, 'agents' | 'providers'>, samples: MetricSamples = {}) {
    this.labels = new LabelSets(config);
    const registers = [this.registry];
    // The histograms every request touches keep their own counters (own-series.ts).
    const http = new BucketHistogram(
      'tv_http_request_duration_seconds',
      'HTTP requests by listener, route pattern and status.',
      ['listener', 'route', 'status'],
      LATENCY_BUCKETS,
      this.registry,
    );
    this.#http = (...v) => http.labels(...v);
    const exchanges = new PlainCounter(
      'tv_exchanges_total',
      'Token exchanges by outcome (`issued` or the TV_ error code), agent, provider and operation.',
      ['outcome', 'agent', 'provider', 'operation'],
      this.registry,
    );
    this.#exchanges = (...v) => exchanges.labels(...v);
    const refresh = new Histogram({
      name: 'tv_upstream_refresh_duration_seconds',
      help: 'Upstream refresh-token grants by provider and outcome.',
      labelNames: ['provider', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#refresh = cached((...v) => refresh.labels(...v));
    const tokenCache = new PlainCounter(
      'tv_upstream_token_cache_total',
      'Upstream access-token cache lookups by provider and result (hit, miss).',
      ['provider', 'result'],
      this.registry,
    );
    this.#tokenCache = (...v) => tokenCache.labels(...v);
    const forward = new BucketHistogram(
      'tv_forward_upstream_duration_seconds',
      '/forward upstream calls by provider and upstream status (`failed`: no answer), until the relay ends.',
      ['provider', 'status'],
      LATENCY_BUCKETS,
      this.registry,
    );
    this.#forward = (...v) => forward.labels(...v);
    const auditAppend = new BucketHistogram(
      'tv_audit_append_duration_seconds',
      'Audit chain appends (one group commit each) by outcome.',
      ['outcome'],
      LATENCY_BUCKETS,
      this.registry,
    );
    this.#auditAppend = (...v) => auditAppend.labels(...v);
    this.#auditGroup = new BucketHistogram('tv_audit_append_records', 'Records per audit append (group size).', [], GROUP_BUCKETS, this.registry).labels();
    const depth = () => this.#auditQueueDepth;
    new Gauge({
      name: 'tv_audit_queue_depth',
      help: 'Audit events waiting behind the append in flight.',
      registers,
      collect() {
        this.set(depth());
      },
    });
    const redis = new BucketHistogram(
      'tv_redis_command_duration_seconds',
      'Store calls on Redis by store method (one or more commands each).',
      ['command'],
      REDIS_BUCKETS,
      this.registry,
    );
    this.#redis = (...v) => redis.labels(...v);
    const redisErrors = new Counter({
      name: 'tv_redis_command_errors_total',
      help: 'Store calls on Redis that failed, by store method.',
      labelNames: ['command'],
      registers,
    });
    this.#redisErrors = cached((...v) => redisErrors.labels(...v));

    const { killSwitchSnapshotAgeSeconds: age, grantsByStatus, auditArchiveLag } = samples;
    if (auditArchiveLag) {
      new Gauge({
        name: 'tv_audit_archive_lag_seconds',
        help: 'Age of the oldest audit record not yet in the PostgreSQL archive, per chain (as of the last archiver pass).',
        labelNames: ['chain'],
        registers,
        collect() {
          for (const { chain, lagSeconds } of auditArchiveLag()) this.set({ chain: String(chain) }, lagSeconds);
        },
      });
    }
    if (age) {
      new Gauge({
        name: 'tv_kill_switch_snapshot_age_seconds',
        help: 'Seconds since the kill-switch snapshot was last confirmed; checks fail closed past 1 s.',
        registers,
        collect() {
          const seconds = age();
          this.set(Number.isFinite(seconds) ? seconds : -1);
        },
      });
    }
    if (grantsByStatus) {
      const truncated = new Gauge({ name: 'tv_grants_census_truncated', help: '1 when tv_grants counted only the first grants (bounded scan).', registers });
      new Gauge({
        name: 'tv_grants',
        help: 'Grants by status, counted at scrape time at most once a minute over a bounded scan (grant-census.ts).',
        labelNames: ['status'],
        registers,
        async collect() {
          const counts = await grantsByStatus();
          if (counts === null) return;
          for (const [status, count] of Object.entries(counts.byStatus)) this.set({ status }, count);
          truncated.set(counts.truncated ? 1 : 0);
        },
      });
    }
  }

  /** The text of a scrape: process-wide defaults (process_*, nodejs_*) and this app's series. */
  async text(): Promise<string> {
    const [process, own] = await Promise.all([processMetricsText(), this.registry.metrics()]);
    return `${process}\n${own}`;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  // Recorders, each shaped like the interface its caller declares.

  readonly http = {
    request: (listener: string, route: string | undefined, status: number, seconds: number): void =>
      this.#http(listener, route ?? 'unmatched', statusLabel(status)).observe(seconds),
  };

  readonly exchange = {
    exchanged: (outcome: string, trail: { agent?: string | undefined; provider?: string | undefined; operation?: string | undefined }): void =>
      this.#exchanges(outcome, this.labels.agent(trail.agent), this.labels.provider(trail.provider), this.labels.operation(trail.operation)).inc(),
  };

  readonly forward = {
    upstream: (provider: string | undefined, status: number | undefined, seconds: number): void =>
      this.#forward(this.labels.provider(provider), status === undefined ? 'failed' : statusLabel(status)).observe(seconds),
  };

  readonly upstreamAccess = {
    cacheLookup: (provider: string, hit: boolean): void => this.#tokenCache(this.labels.provider(provider), hit ? 'hit' : 'miss').inc(),
    refreshed: (provider: string, outcome: string, seconds: number): void => this.#refresh(this.labels.provider(provider), outcome).observe(seconds),
  };

  readonly audit = {
    appended: (seconds: number, records: number, ok: boolean): void => {
      this.#auditAppend(ok ? 'ok' : 'error').observe(seconds);
      this.#auditGroup.observe(records);
    },
    queued: (depth: number): void => {
      this.#auditQueueDepth = depth;
    },
  };

  readonly store = {
    command: (method: string, seconds: number, ok: boolean): void => {
      this.#redis(method).observe(seconds);
      if (!ok) this.#redisErrors(method).inc();
    },
  };
}
