/**
 * The vault's error vocabulary: one table of stable codes (`TV_…`, like jose's
 * `ERR_JWS_…` and @fastify/error's `FST_ERR_…`), each mapped to the RFC 6749
 * §5.2 error, status and static description it is answered with, and the
 * OAuth error classes built on it. Errors of other folders (store, audit,
 * crypto, upstream...) carry one of these codes as `code`; classification is
 * by `instanceof` or by code, never by message text or class name.
 *
 * The single error handler (http/error-handler.ts) answers them. An error's
 * internal `detail` only reaches logs and audit. Nothing from the request, an
 * upstream body or a library message is ever sent back.
 */
import { z } from 'zod';
import { ERROR_RULES } from './error-rules.js';

export { ERROR_RULES };

/** The RFC 6749 §5.2 error body, for route schemas and openapi.yaml. */
export const oauthErrorBody = z.object({
  error: z.string(),
  error_description: z.string(),
  error_uri: z.string().optional(),
  /** OpenID CIBA Core 1.0 §7.3, with `authorization_pending` from /exchange: the request awaiting approval. */
  auth_req_id: z.string().optional(),
  expires_in: z.number().int().optional(),
  interval: z.number().int().optional(),
  /** The request id, also sent as `x-request-id` (src/http/server.ts). */
  request_id: z.string(),
});

/** What a code is answered with: the RFC 6749 §5.2 `error`, the HTTP status and a static `error_description`. */
export interface ErrorAnswer {
  readonly error: string;
  readonly status: number;
  readonly description: string;
}

const INVALID_REQUEST = 'The request is missing a required parameter, includes an invalid parameter value, or is otherwise malformed.';
const UNAVAILABLE = { error: 'temporarily_unavailable', status: 503, description: 'The service is temporarily unavailable. Retry later.' } as const;
const SERVER_ERROR = { error: 'server_error', status: 500, description: 'The server encountered an unexpected condition.' } as const;
const UPSTREAM = { error: 'upstream_error', status: 502, description: 'The upstream provider failed to answer correctly.' } as const;
const DENIED = { error: 'access_denied', status: 403, description: 'The request was denied.' } as const;
const BAD_TOKEN = { error: 'invalid_token', status: 401, description: 'The access token is invalid, expired or not usable for this request.' } as const;
const MALFORMED = { error: 'invalid_request', status: 400, description: INVALID_REQUEST } as const;
const NOT_FOUND = { error: 'not_found', status: 404, description: 'The requested resource does not exist.' } as const;

/** Every code the vault raises, with its answer. */
export const ERROR_CODES = {
  // The answers of the OAuth endpoints (RFC 6749 §5.2, RFC 6750 §3.1, RFC 8693 §2.2.2).
  TV_INVALID_REQUEST: MALFORMED,
  TV_INVALID_CLIENT: { error: 'invalid_client', status: 401, description: 'Client authentication failed.' },
  TV_UNSUPPORTED_GRANT_TYPE: { error: 'unsupported_grant_type', status: 400, description: 'The authorization grant type is not supported.' },
  TV_INVALID_TARGET: { error: 'invalid_target', status: 400, description: 'The requested resource is unknown or not acceptable.' },
  TV_INVALID_SCOPE: { error: 'invalid_scope', status: 400, description: 'The requested operation is unknown or not permitted.' },
  TV_ACCESS_DENIED: DENIED,
  TV_CONSENT_REQUIRED: { error: 'consent_required', status: 400, description: 'The user must link the account or grant consent for this operation.' },
  TV_INVALID_TOKEN: BAD_TOKEN,
  TV_INSUFFICIENT_SCOPE: { error: 'insufficient_scope', status: 403, description: 'The request is outside the operation the access token was issued for.' },
  TV_PAYLOAD_TOO_LARGE: { error: 'invalid_request', status: 413, description: 'The request body is too large.' },
  TV_UNSUPPORTED_MEDIA_TYPE: { error: 'invalid_request', status: 415, description: 'The request content type is not supported.' },
  TV_NOT_FOUND: NOT_FOUND,
  TV_METHOD_NOT_ALLOWED: { error: 'invalid_request', status: 405, description: 'The request method is not allowed.' },
  // Operations that need approval (src/approvals/): OpenID CIBA Core 1.0 §11 token error responses.
  TV_AUTHORIZATION_PENDING: { error: 'authorization_pending', status: 400, description: 'The request awaits approval. Poll no sooner than the interval.' },
  TV_SLOW_DOWN: { error: 'slow_down', status: 400, description: 'Polling too fast: wait at least the interval between polls.' },
  TV_APPROVAL_DENIED: { error: 'access_denied', status: 400, description: 'The approver denied the request.' },
  TV_EXPIRED_TOKEN: { error: 'expired_token', status: 400, description: 'The auth_req_id has expired. Ask again.' },
  TV_INVALID_GRANT: { error: 'invalid_grant', status: 400, description: 'The auth_req_id is invalid, already used, or not issued to this client.' },
  TV_APPROVAL_NOT_PENDING: { error: 'invalid_request', status: 409, description: 'The approval request is no longer pending.' },
  // What the HTTP layer refuses before a route runs (http/error-handler.ts, `clientError` and Fastify's framework errors).
  TV_REQUEST_TIMEOUT: { error: 'invalid_request', status: 408, description: 'The request was not received in time.' },
  TV_URI_TOO_LONG: { error: 'invalid_request', status: 414, description: 'The request URI is too long.' },
  TV_HEADERS_TOO_LARGE: { error: 'invalid_request', status: 431, description: 'The request headers are too large.' },
  TV_TEMPORARILY_UNAVAILABLE: UNAVAILABLE,
  TV_UPSTREAM_ERROR: UPSTREAM,
  TV_UPSTREAM_TIMEOUT: { error: 'upstream_error', status: 504, description: 'The upstream provider did not answer in time.' },
  TV_SERVER_ERROR: SERVER_ERROR,
  // Audit before answer, failing closed: a record that cannot be written releases nothing.
  TV_AUDIT_UNAVAILABLE: UNAVAILABLE,
  TV_AUDIT_OVERLOAD: UNAVAILABLE,
  TV_AUDIT_CONTENTION: UNAVAILABLE,
  TV_AUDIT_EVENT_INVALID: SERVER_ERROR,
  TV_AUDIT_CHECKPOINT_INVALID: SERVER_ERROR,
  TV_AUDIT_TAMPERED: SERVER_ERROR,
  // Infrastructure. Callers that know more translate these first (a lost refresh answer parks
  // the grant, a missing grant is consent_required with its link); this is the answer otherwise.
  TV_STORE_UNAVAILABLE: UNAVAILABLE,
  TV_STORE_CONFLICT: SERVER_ERROR,
  TV_UPSTREAM_FAILED: UPSTREAM,
  TV_UPSTREAM_INVALID_GRANT: DENIED,
  TV_OUTBOUND_FAILED: UPSTREAM,
  TV_GRANT_NEEDS_CONSENT: DENIED,
  TV_OPERATION_TOKEN_REJECTED: BAD_TOKEN,
  TV_ADMIN_JWT_REJECTED: BAD_TOKEN,
  TV_REWRAP_BUSY: UNAVAILABLE,
  TV_KEYS_SEALED: UNAVAILABLE,
  TV_KEYRING_SEALED: UNAVAILABLE,
  TV_DECRYPTION_FAILED: SERVER_ERROR,
  TV_UNKNOWN_KEY_ID: SERVER_ERROR,
  TV_UNSUPPORTED_CIPHERTEXT: SERVER_ERROR,
  TV_KEY_MATERIAL_INVALID: SERVER_ERROR,
  TV_SIGNING_KEY_UNSUPPORTED: SERVER_ERROR,
  TV_TLS_MATERIAL_INVALID: SERVER_ERROR,
  TV_CONFIG_INVALID: SERVER_ERROR,
  TV_STARTUP_FAILED: SERVER_ERROR,
  // The consent pages (linking/pages/page-error.ts) render these as HTML.
  TV_CSRF_REJECTED: DENIED,
  TV_LINK_SIGN_IN_REQUIRED: { error: 'login_required', status: 401, description: 'The user must sign in.' },
  TV_LINK_SIGN_IN_FAILED: { ...DENIED, status: 400 },
  TV_LINK_BAD_FORM: MALFORMED,
  TV_LINK_UNSAFE_RETURN_TO: MALFORMED,
  TV_LINK_STATE_MISSING: MALFORMED,
  TV_LINK_STATE_INVALID: MALFORMED,
  TV_LINK_STATE_EXPIRED: MALFORMED,
  TV_LINK_STATE_OTHER_SESSION: MALFORMED,
  TV_LINK_STATE_OTHER_PROVIDER: MALFORMED,
  TV_LINK_UNKNOWN_PROVIDER: NOT_FOUND,
  TV_LINK_UNKNOWN_GRANT: NOT_FOUND,
  TV_LINK_OPERATION_NOT_PERMITTED: { error: 'invalid_scope', status: 400, description: 'The requested operation is unknown or not permitted.' },
  TV_LINK_PROVIDER_REFUSED: { ...DENIED, status: 400 },
  TV_LINK_PROVIDER_TIMEOUT: { error: 'upstream_error', status: 504, description: 'The upstream provider did not answer in time.' },
  TV_LINK_PROVIDER_FAILED: UPSTREAM,
  TV_LINK_NO_REFRESH_TOKEN: UPSTREAM,
  TV_LINK_NO_SUBJECT: UPSTREAM,
} as const satisfies Record<`TV_${string}`, ErrorAnswer>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The rules an error of this code may name. */
export type RuleOf<C extends ErrorCode> = C extends keyof typeof ERROR_RULES ? (typeof ERROR_RULES)[C][number] : never;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export abstract class OAuthError extends Error {
  abstract readonly code: ErrorCode;
  /** Extra response fields (e.g. `error_uri`). */
  extra: Record<string, string | number> = {};
  /** Extra response headers (e.g. `Retry-After`, `WWW-Authenticate`). */
  headers: Record<string, string> = {};
  /** The rule that failed (ERROR_RULES), the description mTLS callers get instead of the static one. */
  rule?: string;

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

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  get error(): string {
    return ERROR_CODES[this.code].error;
  }

  get description(): string {
    return ERROR_CODES[this.code].description;
  }

  /** Names the rule that failed: `throw new InvalidScope('unknown operation').because('scope names no operation of this provider')`. */
  because<E extends OAuthError>(this: E, rule: RuleOf<E['code']>): E {
    this.rule = rule;
    return this;
  }

  /** @param description the static description unless the caller may be told the rule (http/error-handler.ts). */
  toBody(description = this.description): Record<string, string | number> {
    return { error: this.error, error_description: description, ...this.extra };
  }
}

export class InvalidRequest extends OAuthError {
  readonly code = 'TV_INVALID_REQUEST';
}

export class InvalidClient extends OAuthError {
  readonly code = 'TV_INVALID_CLIENT';
}

/** RFC 6749 §5.2: a grant type other than token exchange (RFC 8693 §2.1). */
export class UnsupportedGrantType extends OAuthError {
  readonly code = 'TV_UNSUPPORTED_GRANT_TYPE';
}

export class InvalidTarget extends OAuthError {
  readonly code = 'TV_INVALID_TARGET';
}

export class InvalidScope extends OAuthError {
  readonly code = 'TV_INVALID_SCOPE';
}

export class AccessDenied extends OAuthError {
  readonly code = 'TV_ACCESS_DENIED';
}

export class ConsentRequired extends OAuthError {
  readonly code = 'TV_CONSENT_REQUIRED';
  constructor(errorUri: string, detail = '') {
    super(detail);
    this.extra = { error_uri: errorUri };
  }
}

export class InvalidToken extends OAuthError {
  readonly code = 'TV_INVALID_TOKEN';
}

/** RFC 6750 §3.1: the token is fine but does not cover this request (its operation's methods and paths). */
export class InsufficientScope extends OAuthError {
  readonly code = 'TV_INSUFFICIENT_SCOPE';
  constructor(detail = '') {
    super(detail);
    this.headers = { 'www-authenticate': 'Bearer error="insufficient_scope"' };
  }
}

export class PayloadTooLarge extends OAuthError {
  readonly code = 'TV_PAYLOAD_TOO_LARGE';
}

export class UnsupportedMediaType extends OAuthError {
  readonly code = 'TV_UNSUPPORTED_MEDIA_TYPE';
}

export class NotFound extends OAuthError {
  readonly code = 'TV_NOT_FOUND';
}

export class MethodNotAllowed extends OAuthError {
  readonly code = 'TV_METHOD_NOT_ALLOWED';
}

export class TemporarilyUnavailable extends OAuthError {
  readonly code: ErrorCode = 'TV_TEMPORARILY_UNAVAILABLE';
  constructor(detail = '', retryAfterSeconds = 1) {
    super(detail);
    this.headers = { 'retry-after': String(retryAfterSeconds) };
  }
}

/** An audit record due before the answer could not be written: 503, and nothing is released. */
export class AuditUnavailable extends TemporarilyUnavailable {
  override readonly code = 'TV_AUDIT_UNAVAILABLE';
}

export class UpstreamError extends OAuthError {
  readonly code = 'TV_UPSTREAM_ERROR';
}

export class UpstreamTimeout extends OAuthError {
  readonly code = 'TV_UPSTREAM_TIMEOUT';
}

export class ServerError extends OAuthError {
  readonly code = 'TV_SERVER_ERROR';
}

/**
 * An error of another folder (store, audit, keys, upstream...) known by its code, answered as the
 * table says; `name` is the original class's, for the logs.
 */
export class CodedError extends OAuthError {
  readonly #name: string;
  constructor(
    readonly code: ErrorCode,
    detail: string,
    name = 'CodedError',
  ) {
    super(detail);
    this.#name = name;
    if (this.status === 503) this.headers = { 'retry-after': '1' };
  }

  override get name(): string {
    return this.#name;
  }
}

/**
 * One-line guard: `assert(grant, new AccessDenied('grant not found'))`. On hot paths pass a
 * factory, `assert(grant, () => new AccessDenied(...))`, so no error is built when the check passes.
 */
export function assert(condition: unknown, error: OAuthError | (() => OAuthError)): asserts condition {
  if (!condition) throw typeof error === 'function' ? error() : error;
}
