/**
 * The single error handler of both listeners. Anything thrown is classified
 * once (`toOAuthError`: the code table of errors.ts); a route that audits its
 * refusals has the record written first (audited-route.ts); then the answer is
 * an RFC 6749 §5.2 body with a static description and `no-store`, or, on a
 * route whose plugin renders pages (`config: { errorPage }`), that plugin's
 * HTML page for the same classified error.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CodedError, InvalidRequest, isErrorCode, OAuthError, PayloadTooLarge, ServerError, UnsupportedMediaType, type ErrorCode } from '../errors.js';
import { auditedRefusal } from './audited-route.js';

/** A refusal as a page: the page's own status and its HTML. */
export interface ErrorPage {
  status: number;
  html: string;
}

/** Renders a classified refusal as a page; it never sees the original error, only its classification. */
export type ErrorPageRenderer = (refusal: OAuthError, request: FastifyRequest) => ErrorPage;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set by a plugin whose routes answer errors with HTML pages (the consent pages). */
    errorPage?: ErrorPageRenderer;
  }
}

/**
 * Map anything thrown to an OAuthError: ours as they are, anything carrying a code of the table
 * as that code, Fastify's request errors by their codes; the rest is an opaque server_error.
 */
export function toOAuthError(err: unknown): OAuthError {
  if (err instanceof OAuthError) return err;
  if (typeof err !== 'object' || err === null) return new ServerError('non-error thrown');
  const fe = err as Partial<FastifyError> & { validation?: unknown };
  if (isErrorCode(fe.code)) return new CodedError(fe.code, describeCoded(err, fe.code), err instanceof Error ? err.name : undefined);
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
  // @fastify/csrf-protection's codes: FST_CSRF_MISSING_SECRET, FST_CSRF_INVALID_TOKEN.
  if (typeof fe.code === 'string' && fe.code.startsWith('FST_CSRF_')) return new CodedError('TV_CSRF_REJECTED', fe.code);
  if (fe.statusCode === 400 || err instanceof SyntaxError) return new InvalidRequest('malformed request');
  if (fe.statusCode === 413) return new PayloadTooLarge(String(fe.code ?? 'body too large'));
  if (fe.statusCode === 415) return new UnsupportedMediaType(String(fe.code ?? 'unsupported media type'));
  if (fe.statusCode === 408 || fe.code === 'FST_ERR_REQUEST_TIMEOUT') return new InvalidRequest('request timeout');
  return new ServerError(describeUnknown(err));
}

/** Our own errors' messages are static or name a field, never a value: they may reach logs and audit. */
function describeCoded(err: object, code: ErrorCode): string {
  if (!(err instanceof Error)) return code;
  return `${err.name} (${code})${err.message ? `: ${err.message}` : ''}`;
}

/**
 * What an unexpected error may put in a log: its class, code and where it was thrown.
 * Never its message, which can quote input (a token, a header) verbatim.
 */
function describeUnknown(err: object): string {
  if (!(err instanceof Error)) return 'non-error thrown';
  const code = (err as { code?: unknown }).code;
  const frame =
    err.stack
      ?.split('\n')
      .find((line) => line.trimStart().startsWith('at '))
      ?.trim() ?? '';
  return [err.name, typeof code === 'string' ? `(${code})` : '', frame].filter(Boolean).join(' ');
}

const answered = new WeakMap<FastifyRequest, OAuthError>();

/** The classified refusal a request was answered with, if it was refused (metrics label outcomes by its code). */
export function refusalOf(request: FastifyRequest): OAuthError | undefined {
  return answered.get(request);
}

/** The error handler of both listeners (and their not-found handler's answer). */
export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply | Promise<FastifyReply> {
  const refusal = toOAuthError(err);
  const audited = auditedRefusal(request, refusal);
  return audited === null ? answer(refusal, request, reply) : audited.then((final) => answer(final, request, reply));
}

function answer(refusal: OAuthError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const page = request.routeOptions.config?.errorPage?.(refusal, request);
  const status = page?.status ?? refusal.status;
  answered.set(request, refusal);
  // `errorCode`, not `code`: the log scrubber (logging.ts) redacts every field named `code` (OAuth codes).
  const logFields = { err: { type: refusal.name, errorCode: refusal.code, error: refusal.error, status, detail: refusal.detail } };
  if (status >= 500) request.log.error(logFields, 'request failed');
  else request.log.info(logFields, 'request refused');
  if (page) return reply.code(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(page.html);
  return (
    reply
      .code(status)
      .headers({ 'cache-control': 'no-store', pragma: 'no-cache', ...refusal.headers })
      .type('application/json; charset=utf-8')
      // The request id (also the `x-request-id` header) ties a refusal to its log lines and audit record.
      .send({ ...refusal.toBody(), request_id: request.id })
  );
}
