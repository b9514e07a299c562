/**
 * OAuth errors (RFC 6749 §5.2 bodies) and the single error handler.
 *
 * Each class carries a static `description` that is safe to send, and an
 * internal `detail` that only reaches logs and audit. Nothing from the
 * request, an upstream body or a library message is ever sent back.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { StoreUnavailableError } from './store/errors.js';

/** The RFC 6749 §5.2 error body, for route schemas and openapi.yaml. */
export const oauthErrorBody = z.object({
  error: z.string(),
  error_description: z.string(),
  error_uri: z.string().optional(),
});

export abstract class OAuthError extends Error {
  abstract readonly status: number;
  abstract readonly error: string;
  abstract readonly description: string;
  /** Extra response fields (e.g. `error_uri`). */
  extra: Record<string, string> = {};
  /** Extra response headers (e.g. `Retry-After`, `WWW-Authenticate`). */
  headers: Record<string, string> = {};

  /** @param detail internal reason: logs and audit only, never the response. */
  constructor(readonly detail = '') {
    // No stack: it is never logged or sent, and one-line guards (`assert(x, new AccessDenied())`)
    // build an error on every request, where capturing a stack trace costs more than the check.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(detail);
    Error.stackTraceLimit = limit;
  }

  override get name(): string {
    return this.constructor.name;
  }

  toBody(): Record<string, string> {
    return { error: this.error, error_description: this.description, ...this.extra };
  }
}

export class InvalidRequest extends OAuthError {
  readonly status = 400;
  readonly error = 'invalid_request';
  readonly description = 'The request is missing a required parameter, includes an invalid parameter value, or is otherwise malformed.';
}

export class InvalidClient extends OAuthError {
  readonly status = 401;
  readonly error = 'invalid_client';
  readonly description = 'Client authentication failed.';
}

export class InvalidTarget extends OAuthError {
  readonly status = 400;
  readonly error = 'invalid_target';
  readonly description = 'The requested resource is unknown or not acceptable.';
}

export class InvalidScope extends OAuthError {
  readonly status = 400;
  readonly error = 'invalid_scope';
  readonly description = 'The requested operation is unknown or not permitted.';
}

export class AccessDenied extends OAuthError {
  readonly status = 403;
  readonly error = 'access_denied';
  readonly description = 'The request was denied.';
}

export class ConsentRequired extends OAuthError {
  readonly status = 400;
  readonly error = 'consent_required';
  readonly description = 'The user must link the account or grant consent for this operation.';
  constructor(errorUri: string, detail = '') {
    super(detail);
    this.extra = { error_uri: errorUri };
  }
}

export class InvalidToken extends OAuthError {
  readonly status = 401;
  readonly error = 'invalid_token';
  readonly description = 'The access token is invalid, expired or not usable for this request.';
}

/** RFC 6750 §3.1: the token is fine but does not cover this request (its operation's methods and paths). */
export class InsufficientScope extends OAuthError {
  readonly status = 403;
  readonly error = 'insufficient_scope';
  readonly description = 'The request is outside the operation the access token was issued for.';
  constructor(detail = '') {
    super(detail);
    this.headers = { 'www-authenticate': 'Bearer error="insufficient_scope"' };
  }
}

export class PayloadTooLarge extends OAuthError {
  readonly status = 413;
  readonly error = 'invalid_request';
  readonly description = 'The request body is too large.';
}

export class UnsupportedMediaType extends OAuthError {
  readonly status = 415;
  readonly error = 'invalid_request';
  readonly description = 'The request content type is not supported.';
}

export class NotFound extends OAuthError {
  readonly status = 404;
  readonly error = 'not_found';
  readonly description = 'The requested resource does not exist.';
}

export class MethodNotAllowed extends OAuthError {
  readonly status = 405;
  readonly error = 'invalid_request';
  readonly description = 'The request method is not allowed.';
}

export class TemporarilyUnavailable extends OAuthError {
  readonly status = 503;
  readonly error = 'temporarily_unavailable';
  readonly description = 'The service is temporarily unavailable. Retry later.';
  constructor(detail = '', retryAfterSeconds = 1) {
    super(detail);
    this.headers = { 'retry-after': String(retryAfterSeconds) };
  }
}

export class UpstreamError extends OAuthError {
  readonly status = 502;
  readonly error = 'upstream_error';
  readonly description = 'The upstream provider failed to answer correctly.';
}

export class UpstreamTimeout extends OAuthError {
  readonly status = 504;
  readonly error = 'upstream_error';
  readonly description = 'The upstream provider did not answer in time.';
}

export class ServerError extends OAuthError {
  readonly status = 500;
  readonly error = 'server_error';
  readonly description = 'The server encountered an unexpected condition.';
}

/**
 * One-line guard: `assert(grant, new AccessDenied('grant not found'))`. On hot paths pass a
 * factory, `assert(grant, () => new AccessDenied(...))`, so no error is built when the check passes.
 */
export function assert(condition: unknown, error: OAuthError | (() => OAuthError)): asserts condition {
  if (!condition) throw typeof error === 'function' ? error() : error;
}

/** Map anything thrown to an OAuthError; unknown errors become an opaque server_error. */
export function toOAuthError(err: unknown): OAuthError {
  if (err instanceof OAuthError) return err;
  if (err instanceof StoreUnavailableError) return new TemporarilyUnavailable(`store: ${err.message}`);
  const fe = err as Partial<FastifyError> & { validation?: unknown };
  if (fe && typeof fe === 'object') {
    if (fe.validation !== undefined) return new InvalidRequest('schema validation failed');
    switch (fe.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return new PayloadTooLarge('body too large');
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return new UnsupportedMediaType(String(fe.code));
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_TYPE':
        return new InvalidRequest(String(fe.code));
    }
    if (fe.statusCode === 400 || (fe as { name?: string }).name === 'SyntaxError') {
      return new InvalidRequest('malformed request');
    }
    if (fe.statusCode === 408 || fe.code === 'FST_ERR_REQUEST_TIMEOUT') return new InvalidRequest('request timeout');
  }
  return new ServerError(describeUnknown(err));
}

/**
 * What an unexpected error may put in a log: its class, code and where it was thrown.
 * Never its message, which can quote input (a token, a header) verbatim.
 */
function describeUnknown(err: unknown): string {
  if (!(err instanceof Error)) return 'non-error thrown';
  const code = (err as { code?: unknown }).code;
  const frame =
    err.stack
      ?.split('\n')
      .find((line) => line.trimStart().startsWith('at '))
      ?.trim() ?? '';
  return [err.name, typeof code === 'string' ? `(${code})` : '', frame].filter(Boolean).join(' ');
}

/** The single error handler: RFC 6749 §5.2 bodies, static descriptions, `no-store`. */
export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const oauth = toOAuthError(err);
  const logFields = { err: { type: oauth.name, error: oauth.error, detail: oauth.detail } };
  if (oauth.status >= 500) request.log.error(logFields, 'request failed');
  else request.log.info(logFields, 'request refused');
  return reply
    .code(oauth.status)
    .headers({ 'cache-control': 'no-store', pragma: 'no-cache', ...oauth.headers })
    .type('application/json; charset=utf-8')
    .send(oauth.toBody());
}
