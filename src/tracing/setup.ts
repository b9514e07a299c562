/**
 * Whether tracing is on, and starting it. Off unless the standard OpenTelemetry
 * variables ask for traces: `OTEL_TRACES_EXPORTER` (other than `none`) or an OTLP
 * endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`);
 * `OTEL_SDK_DISABLED=true` wins. When off, the SDK is never imported and every
 * span call goes to @opentelemetry/api's no-op implementation.
 */
import type { FastifyPluginCallback } from 'fastify';
import type { TracingSdk } from './sdk.js';

let running: TracingSdk | undefined;

export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter(Boolean);
  if (exporters.includes('none')) return false;
  return exporters.length > 0 || Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()) || Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/**
 * Starts the SDK when the environment asks for traces; call once, before the
 * listeners are built (they register @fastify/otel only if tracing is on).
 */
export async function startTracing(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (running || !tracingRequested(env)) return running !== undefined;
  const { startSdk } = await import('./sdk.js');
  running = startSdk(env);
  return true;
}

/** Flushes and stops the SDK, if it runs. A failed last export loses spans, never fails the shutdown. */
export async function stopTracing(): Promise<void> {
  const sdk = running;
  running = undefined;
  await sdk?.shutdown().catch(() => {});
}

export function tracingOn(): boolean {
  return running !== undefined;
}

/** @fastify/otel's plugin while tracing is on. */
export function httpTracingPlugin(): FastifyPluginCallback | undefined {
  return running?.plugin;
}
