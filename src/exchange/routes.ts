/**
 * POST /exchange (RFC 8693) on the internal listener, gateway role.
 * Form-encoded (the standard) or JSON. Every exchange, issued or denied, is
 * audited before the answer leaves; if the audit record cannot be written the
 * answer is 503 and nothing is released (audit before answer: docs/architecture.md#security-properties).
 */
import formbody from '@fastify/formbody';
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { AuditWriter } from '../audit/events.js';
import { TemporarilyUnavailable, errorHandler, oauthErrorBody, toOAuthError } from '../errors.js';
import { traceIdOf } from '../http/trace.js';
import { exchangeRequest, exchangeResponse } from './request.js';
import type { ExchangeTrail, TokenExchange } from './token-exchange.js';

export interface ExchangeRouteOptions {
  exchange: TokenExchange;
  audit: AuditWriter;
}

const trails = new WeakMap<FastifyRequest, ExchangeTrail>();
/** Errors whose audit write already failed: do not try a second record. */
const AUDIT_FAILED = 'audit record could not be written';

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

export const exchangeRoutes: FastifyPluginAsync<ExchangeRouteOptions> = async (app, { exchange, audit }) => {
  // Encapsulated: only this plugin's routes accept form bodies. fast-querystring
  // turns a repeated key into an array, which the schema then refuses.
  await app.register(formbody);
  const routes = app.withTypeProvider<ZodTypeProvider>();

  const record = async (request: FastifyRequest, event: Parameters<AuditWriter['record']>[0]) => {
    try {
      await audit.record({ ...event, requestId: request.id, ...optionalTrace(request) });
    } catch {
      throw new TemporarilyUnavailable(AUDIT_FAILED);
    }
  };

  routes.post(
    '/exchange',
    {
      schema: {
        summary: 'Token exchange (RFC 8693): a single-operation token for an agent acting for a user',
        tags: ['exchange'],
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: exchangeRequest,
        response: { 200: exchangeResponse, 400: oauthErrorBody, 401: oauthErrorBody, 403: oauthErrorBody, 502: oauthErrorBody, 503: oauthErrorBody },
      },
      config: { peer: ['gateway'] },
      // The response schema documents the answer (openapi.yaml); the handler builds it from typed
      // values, so re-validating our own output with zod on the hot path buys nothing.
      serializerCompiler: () => (data) => JSON.stringify(data),
      errorHandler: async (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
        let oauth = toOAuthError(error);
        if (oauth.detail !== AUDIT_FAILED) {
          try {
            await record(request, {
              action: 'token.exchange',
              decision: oauth.status >= 500 ? 'error' : 'deny',
              reason: oauth.detail || oauth.error,
              ...(trails.get(request) ?? { gateway: request.peer?.id }),
            });
          } catch (auditError) {
            oauth = toOAuthError(auditError);
          }
        }
        return errorHandler(oauth, request, reply);
      },
    },
    async (request, reply) => {
      const trail: ExchangeTrail = {};
      trails.set(request, trail);
      const result = await exchange.exchange(request.body, request.peer, trail);
      // The token's record and its audit record go out together (one Redis round trip); the
      // token is sent only when both are durable. If only the record landed, the token was
      // never sent and the record is unreachable without the signed JWT (random jti); if only
      // the audit landed, the trail over-reports an issue that never left, never under-reports.
      await Promise.all([
        result.stored,
        record(request, {
          action: 'token.exchange',
          decision: 'allow',
          ...trail,
          tokenHmac: audit.tokenHmac(result.released),
          details: { issued_token_type: result.body.issued_token_type, expires_in: result.body.expires_in },
        }),
      ]);
      return reply.headers(NO_STORE).send(result.body);
    },
  );
};

function optionalTrace(request: FastifyRequest): { traceId?: string } {
  const traceId = traceIdOf(request.headers.traceparent);
  return traceId ? { traceId } : {};
}
