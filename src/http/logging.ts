/**
 * Logger options shared by both listeners. Tokens, cookies, authorization
 * headers and query strings never reach a log line: headers are redacted,
 * URLs are logged without their query, and bodies are never logged.
 */
import type { FastifyServerOptions, FastifyRequest } from 'fastify';
import type { DestinationStream } from 'pino';
import { activeIds } from '../tracing/span.js';
import { tracingOn } from '../tracing/setup.js';

const REDACTED = '[redacted]';

/** Field names whose values are secrets wherever they appear in a logged object. */
const SECRET_FIELDS = [
  'authorization',
  'cookie',
  'set-cookie',
  'proxy-authorization',
  'access_token',
  'refresh_token',
  'id_token',
  'subject_token',
  'actor_token',
  'client_secret',
  'client_assertion',
  'code',
  'code_verifier',
  'password',
  'token',
  'state',
];

const SECRET_KEYS: ReadonlySet<string> = new Set(SECRET_FIELDS);

/** Exact header paths, handled by pino's redaction (cheap: no wildcards). */
export const redactPaths = [...SECRET_FIELDS.map((f) => `req.headers["${f}"]`), ...SECRET_FIELDS.map((f) => `res.headers["${f}"]`)];

/** How deep under a log call's object a secret-named field is still found (top level = 0). */
const SCRUB_DEPTH = 2;

/**
 * A secret-named field anywhere in the top three levels of a logged object is
 * censored. Done per log line in `formatters.log`, not with pino's wildcard
 * redact paths (`*.token`, `*.*.token`, …): those are re-compiled for every
 * child logger, i.e. for every request (≈ 4.4 µs each, even at `warn` when
 * nothing is logged). The logged object is never mutated: a copy is made on
 * the path to a secret only (keeping an Error's prototype and non-enumerable
 * message and stack).
 */
export function scrubSecrets<T>(value: T, depth = 0): T {
  if (value === null || typeof value !== 'object' || depth > SCRUB_DEPTH) return value;
  let copy: Record<string, unknown> | undefined;
  const source = value as Record<string, unknown>;
  // An error's `cause` is not enumerable, but pino's error serializer logs it.
  const keys = value instanceof Error && Object.hasOwn(value, 'cause') ? [...Object.keys(source), 'cause'] : Object.keys(source);
  for (const key of keys) {
    const before = source[key];
    const after = SECRET_KEYS.has(key.toLowerCase()) ? REDACTED : scrubSecrets(before, depth + 1);
    if (after === before) continue;
    copy ??= Array.isArray(value) ? [...value] : Object.create(Object.getPrototypeOf(value), Object.getOwnPropertyDescriptors(value));
    copy![key] = after;
  }
  return (copy ?? value) as T;
}

/** Path of a URL without its query string or fragment (which may carry codes, tokens or state). */
export function pathOnly(url: string): string {
  const cut = url.search(/[?#]/);
  return cut === -1 ? url : url.slice(0, cut);
}

/** `trace_id`/`span_id` of the active span, so a log line can be found from its trace and back. */
export function traceMixin(): Record<string, string> {
  const ids = activeIds();
  return ids ? { trace_id: ids.traceId, span_id: ids.spanId } : {};
}

export function loggerOptions(level: string, stream?: DestinationStream): Exclude<FastifyServerOptions['logger'], undefined> {
  return {
    level,
    ...(stream ? { stream } : {}),
    // Only while tracing is on: off, no per-line cost at all.
    ...(tracingOn() ? { mixin: traceMixin } : {}),
    redact: { paths: redactPaths, censor: REDACTED },
    // Log-call objects only: pino does not pass child-logger bindings through formatters, so
    // bindings must carry ids alone (today: `listener` and Fastify's request id).
    formatters: { log: (object) => scrubSecrets(object) },
    serializers: {
      req(request: FastifyRequest) {
        return {
          method: request.method,
          url: pathOnly(request.url),
          remoteAddress: request.ip,
        };
      },
      res(reply: { statusCode: number }) {
        return { statusCode: reply.statusCode };
      },
    },
  };
}
