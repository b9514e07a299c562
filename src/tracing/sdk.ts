/**
 * The OpenTelemetry SDK, loaded only when tracing is on (setup.ts imports this
 * module dynamically): a NodeSDK whose exporter, sampler, propagators and
 * resource come from the standard `OTEL_*` variables, with traces only (the
 * metrics and logs signals are not started here), and @fastify/otel for the
 * listeners' request spans.
 */
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { FastifyPluginCallback, FastifyRequest } from 'fastify';
import type { Span } from '@opentelemetry/api';

export interface TracingSdk {
  /** @fastify/otel's plugin, registered first on each listener (src/http/server.ts). */
  plugin: FastifyPluginCallback;
  /** Flushes pending spans and stops exporting. */
  shutdown(): Promise<void>;
}

/**
 * @fastify/otel puts a failed request's error message in the span status; an unexpected
 * error's message can quote input verbatim (src/http/error-handler.ts logs none either),
 * so its spans keep the status code only.
 */
function withoutStatusMessage(span: Span): void {
  const setStatus = span.setStatus.bind(span);
  span.setStatus = (status) => setStatus({ code: status.code });
}

/**
 * A request span names the route pattern, never the URL: a /forward URL carries the
 * provider path and query string, which may hold identifiers or signed parameters.
 * @fastify/otel records no headers and no bodies.
 */
function requestHook(span: Span, request: FastifyRequest): void {
  const route = request.routeOptions.url ?? 'unmatched';
  span.setAttribute('url.path', route);
  span.updateName(`${request.method} ${route}`);
  withoutStatusMessage(span);
}

export function startSdk(env: NodeJS.ProcessEnv): TracingSdk {
  const http = new FastifyOtelInstrumentation({
    requestHook,
    lifecycleHook: withoutStatusMessage,
    // Hook spans would cost a span per hook per request for little insight; the handler span stays.
    instrumentHooks: false,
    // An exception event carries the error's stack and message; the span status names the failure.
    recordExceptions: false,
  });
  const sdk = new NodeSDK({
    ...(env.OTEL_SERVICE_NAME ? {} : { serviceName: 'token-vault' }),
    instrumentations: [http],
    // Tracing only: metrics are prom-client's, logs are pino's.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  return { plugin: http.plugin() as FastifyPluginCallback, shutdown: () => sdk.shutdown() };
}
