/**
 * Spans and trace context over @opentelemetry/api. Without a started SDK
 * (setup.ts) the API is its own no-op: spans are non-recording and nothing is
 * propagated. Attributes are ids already in the audit trail (provider,
 * operation, agent, grant); never a token, a body, a header or a query string.
 */
import { context, isSpanContextValid, propagation, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';

const tracer = trace.getTracer('token-vault');

function failed(s: Span, err: unknown): never {
  // The error's class only: messages are internal details (src/errors.ts).
  s.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
  s.end();
  throw err;
}

/**
 * Runs `fn` in a child span of the active one, ended when `fn` returns or its
 * promise settles; a throw or rejection marks the span as failed.
 */
export function span<T>(name: string, fn: (span: Span) => T, attributes?: Attributes): T {
  return tracer.startActiveSpan(name, attributes ? { attributes } : {}, (s) => {
    let result: T;
    try {
      result = fn(s);
    } catch (err) {
      return failed(s, err);
    }
    if (result instanceof Promise) {
      return result.then(
        (value: unknown) => {
          s.end();
          return value;
        },
        (err: unknown) => failed(s, err),
      ) as T;
    }
    s.end();
    return result;
  });
}

/** Adds ids (as they become known) to the active span. */
export function annotate(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

function idsOf(ctx: Context | undefined): { traceId: string; spanId: string } | undefined {
  const sc = ctx && trace.getSpanContext(ctx);
  return sc && isSpanContextValid(sc) ? { traceId: sc.traceId, spanId: sc.spanId } : undefined;
}

/** Trace and span id of the active span, for log lines. */
export function activeIds(): { traceId: string; spanId: string } | undefined {
  return idsOf(context.active());
}

/**
 * The trace id of a request's span (@fastify/otel keeps the request's context
 * after the span ends, so an audit record written late still finds it), else of
 * the active span.
 */
export function requestTraceId(request: object): string | undefined {
  const otel = (request as { opentelemetry?: () => { context?: Context | null } }).opentelemetry;
  return idsOf(otel?.call(request).context ?? context.active())?.traceId;
}

/** W3C `traceparent` (and `tracestate`) of the active span for an outgoing request; empty when tracing is off. */
export function traceHeaders(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}
