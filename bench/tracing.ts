/**
 * BENCH_TRACING=on: the bench's vault runs with tracing on, exporting every span (default
 * sampler, parent-based always-on) over OTLP/HTTP (protobuf, the SDK default) to a sink in its
 * own process that reads and discards each batch, so the sink's CPU is not the server's.
 * Otherwise tracing stays off and this module starts nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startTracing, stopTracing } from '../src/tracing/setup.js';

const SINK = `require('node:http').createServer((q, s) => { q.resume(); q.on('end', () => s.end()); }).listen(0, '127.0.0.1', function () { console.log(this.address().port); });`;

export interface BenchTracing {
  /** What the report's header line says about tracing. */
  label: string;
  stop(): Promise<void>;
}

export async function benchTracing(): Promise<BenchTracing> {
  if (process.env.BENCH_TRACING !== 'on') return { label: 'tracing off', stop: async () => {} };
  const sink: ChildProcess = spawn(process.execPath, ['-e', SINK], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) => createInterface({ input: sink.stdout! }).once('line', resolve));
  process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = `http://127.0.0.1:${port}/v1/traces`;
  if (!(await startTracing(process.env))) throw new Error('tracing did not start');
  return {
    label: `tracing on (sampler ${process.env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on'}, OTLP/HTTP ${process.env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf'} to a discarding sink)`,
    async stop() {
      await stopTracing();
      sink.kill();
    },
  };
}
