/**
 * `npx tsx bench/tracing-cost.ts`: CPU time per exchange spent on tracing alone, in one process per
 * setting (the OpenTelemetry API is process-global). Each iteration opens the spans one /exchange
 * opens (request, handler, exchange, 7 phases, upstream refresh + token request, audit: 13), with the
 * same attributes, and injects a traceparent as the token call does. BENCH_TRACING=on starts the SDK
 * exactly as the vault does, exporting over OTLP/HTTP (protobuf) to a discarding sink in a child
 * process, with the SDK's default batch settings. Every iteration yields to the event loop once
 * (a real exchange waits on Redis), so the batch exporter keeps up; with OTEL_LOG_LEVEL=warn the
 * SDK reports any span it dropped. Off, the same calls go to the no-op API. BENCH_ITERATIONS
 * (default 20000).
 */
import { benchTracing } from './tracing.js';
import { span, traceHeaders } from '../src/tracing/span.js';

const iterations = Number(process.env.BENCH_ITERATIONS ?? 20_000);

const ids = { 'vault.provider': 'crm', 'vault.operation': 'crm:records.read', 'vault.agent': 'spiffe://dev.local/agent/a', 'vault.grant': 'g-0000' };
const phase = (name: string) => span(name, async () => {});

async function exchangeShaped(): Promise<void> {
  await span('POST /exchange', () =>
    span('handler', async () => {
      await span('exchange', async (s) => {
        await phase('exchange.identity');
        span('exchange.policy', () => s.setAttributes(ids));
        await Promise.all([phase('exchange.grant'), phase('exchange.kill-switches')]);
        span('exchange.kill-switches', () => undefined);
        await span('exchange.upstream', () => span('upstream.refresh', () => span('upstream.token-request', async () => traceHeaders()), ids));
        span('exchange.sign', () => undefined);
      });
      await phase('exchange.audit');
    }),
  );
}

const tracing = await benchTracing();
const yieldOnce = () => new Promise((resolve) => setImmediate(resolve));
for (let i = 0; i < 2000; i++) await exchangeShaped().then(yieldOnce);
const before = process.cpuUsage();
const started = performance.now();
for (let i = 0; i < iterations; i++) await exchangeShaped().then(yieldOnce);
// Spans still queued are exported (and counted) before the clock stops.
await tracing.stop();
const cpu = process.cpuUsage(before);
const wall = performance.now() - started;
process.stdout.write(
  `${tracing.label}: ${iterations} exchange-shaped span trees, ${(((cpu.user + cpu.system) / iterations) as number).toFixed(1)} µs CPU and ${((wall * 1000) / iterations).toFixed(1)} µs wall per exchange\n`,
);
