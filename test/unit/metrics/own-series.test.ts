import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BucketHistogram, PlainCounter } from '../../../src/metrics/own-series.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const OBSERVED: Array<[string, string, number]> = [
  ['internal', '200', 0.0005],
  ['internal', '200', 0.001],
  ['internal', '200', 0.05],
  ['internal', '4xx', 2.5],
  ['public', '200', 0.01],
  ['public', '200', 0.0101],
];

describe('BucketHistogram', () => {
  it('scrapes (text exposition) exactly as prom-client’s Histogram does for the same observations', async () => {
    const own = new Registry();
    const ours = new BucketHistogram('tv_test_seconds', 'A test histogram.', ['listener', 'status'], BUCKETS, own);
    const reference = new Registry();
    const theirs = new Histogram({
      name: 'tv_test_seconds',
      help: 'A test histogram.',
      labelNames: ['listener', 'status'],
      buckets: BUCKETS,
      registers: [reference],
    });
    for (const [listener, status, value] of OBSERVED) {
      ours.labels(listener, status).observe(value);
      theirs.labels(listener, status).observe(value);
    }
    expect(await own.metrics()).toBe(await reference.metrics());
  });

  it('without labels, and empty until observed', async () => {
    const own = new Registry();
    const ours = new BucketHistogram('tv_test_records', 'Records.', [], [1, 2, 4], own);
    expect(await own.metrics()).toBe('# HELP tv_test_records Records.\n# TYPE tv_test_records histogram\n');
    ours.labels().observe(3);
    expect(await own.metrics()).toBe(
      [
        '# HELP tv_test_records Records.',
        '# TYPE tv_test_records histogram',
        'tv_test_records_bucket{le="1"} 0',
        'tv_test_records_bucket{le="2"} 0',
        'tv_test_records_bucket{le="4"} 1',
        'tv_test_records_bucket{le="+Inf"} 1',
        'tv_test_records_sum 3',
        'tv_test_records_count 1',
        '',
      ].join('\n'),
    );
  });
});

describe('PlainCounter', () => {
  it('scrapes (text exposition) exactly as prom-client’s Counter does for the same increments', async () => {
    const own = new Registry();
    const ours = new PlainCounter('tv_test_total', 'A test counter.', ['outcome', 'agent'], own);
    const reference = new Registry();
    const theirs = new Counter({ name: 'tv_test_total', help: 'A test counter.', labelNames: ['outcome', 'agent'], registers: [reference] });
    for (const [outcome, agent] of [
      ['issued', 'a'],
      ['issued', 'a'],
      ['TV_X', 'a'],
      ['issued', 'other'],
    ] as const) {
      ours.labels(outcome, agent).inc();
      theirs.labels(outcome, agent).inc();
    }
    ours.labels('issued', 'b').inc(2.5);
    theirs.labels('issued', 'b').inc(2.5);
    expect(await own.metrics()).toBe(await reference.metrics());
  });
});
