/**
 * Prometheus series for the hot paths: each label set keeps plain numbers
 * (a counter's value; a histogram's bucket counters, sum and count), updated
 * with no label validation, hashing or allocation per call; prom-client's
 * Registry reads them when it is scraped (`get()`, the shape it formats).
 * Label values come only from callers that bound them (labels.ts), as for
 * every metric of the vault.
 */
import type { Registry } from 'prom-client';

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

abstract class OwnMetric<S extends { labels: Record<string, string> }> {
  readonly aggregator = 'sum';
  abstract readonly type: 'counter' | 'histogram';
  readonly #series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /** The series of these label values (in labelNames order), made on first use. */
  labels(...values: string[]): Omit<S, 'labels'> {
    const key = values.join('\u0000');
    let series = this.#series.get(key);
    if (series === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => (labels[name] = values[i] ?? ''));
      this.#series.set(key, (series = this.make(labels)));
    }
    return series;
  }

  protected abstract make(labels: Record<string, string>): S;
  protected abstract values(series: S): MetricValue[];

  /** What prom-client's Registry formats at scrape time. */
  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    const values = [...this.#series.values()].flatMap((series) => this.values(series));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.#series.clear();
  }
}

class CounterSeries {
  value = 0;
  constructor(readonly labels: Record<string, string>) {}
  inc(value = 1): void {
    this.value += value;
  }
}

export class PlainCounter extends OwnMetric<CounterSeries> {
  readonly type = 'counter';
  protected make(labels: Record<string, string>): CounterSeries {
    return new CounterSeries(labels);
  }
  protected values({ labels, value }: CounterSeries): MetricValue[] {
    return [{ labels, value }];
  }
}

class HistogramSeries {
  /** Per bucket, not cumulative; the last one is `+Inf`. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Record<string, string>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export class BucketHistogram extends OwnMetric<HistogramSeries> {
  readonly type = 'histogram';

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[], registry: Registry) {
    super(name, help, labelNames, registry);
    this.#bounds = buckets;
  }

  readonly #bounds: readonly number[];

  protected make(labels: Record<string, string>): HistogramSeries {
    return new HistogramSeries(labels, this.#bounds);
  }

  protected values(series: HistogramSeries): MetricValue[] {
    const out: MetricValue[] = [];
    let cumulative = 0;
    series.counts.forEach((count, i) => {
      cumulative += count;
      out.push({ labels: { le: i < this.#bounds.length ? this.#bounds[i]! : '+Inf', ...series.labels }, value: cumulative, metricName: `${this.name}_bucket` });
    });
    out.push({ labels: series.labels, value: series.sum, metricName: `${this.name}_sum` });
    out.push({ labels: series.labels, value: series.count, metricName: `${this.name}_count` });
    return out;
  }
}
