/**
 * Logger options shared by both listeners. Tokens, cookies, authorization
 * headers and query strings never reach a log line: headers are redacted,
 * URLs are logged without their query, and bodies are never logged.
 */
import type { FastifyServerOptions, FastifyRequest } from 'fastify';
import type { DestinationStream } from 'pino';

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

export const redactPaths = [
  ...SECRET_FIELDS.map((f) => `req.headers["${f}"]`),
  ...SECRET_FIELDS.map((f) => `res.headers["${f}"]`),
  ...SECRET_FIELDS.map((f) => `*["${f}"]`),
  ...SECRET_FIELDS.map((f) => `*.*["${f}"]`),
];

/** Path of a URL without its query string or fragment (which may carry codes, tokens or state). */
export function pathOnly(url: string): string {
  const cut = url.search(/[?#]/);
  return cut === -1 ? url : url.slice(0, cut);
}

export function loggerOptions(level: string, stream?: DestinationStream): Exclude<FastifyServerOptions['logger'], undefined> {
  return {
    level,
    ...(stream ? { stream } : {}),
    redact: { paths: redactPaths, censor: REDACTED },
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
