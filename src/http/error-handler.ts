/**
 * The single error handler of both listeners. Anything thrown is classified
 * once (`toOAuthError`: the code table of errors.ts); a route that audits its
 * refusals has the record written first (audited-route.ts); then the answer is
 * an RFC 6749 §5.2 body with a static description (for an mTLS caller, the
 * static rule that failed) and `no-store`, or, on a
 * route whose plugin renders pages (`config: { errorPage }`), that plugin's
 * HTML page for the same classified error.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
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
    case 'FST_ERR_BAD_URL':
      return new InvalidRequest(String(fe.code));
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new CodedError('TV_URI_TOO_LONG', fe.code);
    // Node's `clientError`s (answerClientError): headers or body too slow, headers too large.
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new CodedError('TV_REQUEST_TIMEOUT', fe.code);
    case 'HPE_HEADER_OVERFLOW':
      return new CodedError('TV_HEADERS_TOO_LARGE', fe.code);
  }
  // The rest of llhttp's parse errors (bad method, request line, header token, chunk...): a malformed request.
  if (typeof fe.code === 'string' && fe.code.startsWith('HPE_')) return new InvalidRequest(fe.code);
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
  // Framework errors answered before routing (frameworkErrors) run no onSend hook: the headers are set here.
  reply.header('x-content-type-options', 'nosniff');
  reply.header('x-request-id', request.id);
  if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', ERROR_CSP);
  if (page) return reply.code(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(page.html);
  return (
    reply
      .code(status)
      .headers({ 'cache-control': 'no-store', pragma: 'no-cache', ...refusal.headers })
      .type('application/json; charset=utf-8')
      // The request id (also the `x-request-id` header) ties a refusal to its log lines and audit record.
      .send({ ...refusal.toBody(describedTo(refusal, request)), request_id: request.id })
  );
}

/**
 * A caller on the internal listener has proven an allowlisted client certificate (`peer`, set by
 * identity/mtls-plugin.ts): it is told which rule failed, a static sentence of errors.ts's closed list.
 * Anyone else (the public listener, pages) gets the code's static description.
 */
function describedTo(refusal: OAuthError, request: FastifyRequest): string {
  const peer = (request as { peer?: unknown }).peer;
  return peer && refusal.rule !== undefined ? refusal.rule : refusal.description;
}

/** An error answer is data, never a document: nothing loads, nothing frames it (pages keep their own CSP). */
const ERROR_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * What Node's HTTP parser refuses before there is a request to route (`clientError`: a bad
 * request line or header, headers too large, headers or body not received in time) gets the
 * same classification, body and headers, written on the socket, which is then closed, as Node
 * itself does. The error is never logged whole: llhttp's carries the raw bytes it refused.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex, log: FastifyBaseLogger): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const refusal = toOAuthError(err);
  const { status } = refusal;
  log.info({ err: { type: refusal.name, errorCode: refusal.code, error: refusal.error, status, detail: refusal.detail } }, 'request refused');
  if (socket.writable) {
    const body = JSON.stringify(refusal.toBody());
    const headers = {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'no-store',
      pragma: 'no-cache',
      'x-content-type-options': 'nosniff',
      'content-security-policy': ERROR_CSP,
      connection: 'close',
      ...refusal.headers,
    };
    const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${head.join('')}\r\n${body}`);
  }
  socket.destroy();
}
