/**
 * POST /exchange (RFC 8693) on the internal listener, gateway role.
 * Form-encoded (the standard) or JSON. Every exchange, issued or denied, is
 * audited before the answer leaves; if the audit record cannot be written the
 * answer is 503 and nothing is released (http/audited-route.ts).
 */
import formbody from '@fastify/formbody';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { AuditWriter } from '../audit/events.js';
import { oauthErrorBody, UnsupportedGrantType } from '../errors.js';
import { mustAudit } from '../http/audited-route.js';
import { refusalOf } from '../http/error-handler.js';
import { auditTraceId } from '../http/trace.js';
import { GRANT_TYPE_CIBA, GRANT_TYPE_TOKEN_EXCHANGE } from '../tokens/token-types.js';
import { span } from '../tracing/span.js';
import { exchangeResponse, tokenRequest } from './request.js';
import type { ExchangeTrail, TokenExchange } from './token-exchange.js';

/** Told of every answered exchange (the app's metrics): `issued` or the refusal's TV_ code, with what the trail knew. */
export interface ExchangeMetrics {
  exchanged(outcome: string, trail: ExchangeTrail): void;
}

export interface ExchangeRouteOptions {
  exchange: TokenExchange;
  audit: AuditWriter;
  metrics?: ExchangeMetrics | undefined;
}

const trails = new WeakMap<FastifyRequest, ExchangeTrail>();

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

export const exchangeRoutes: FastifyPluginAsync<ExchangeRouteOptions> = async (app, { exchange, audit, metrics }) => {
  // Encapsulated: only this plugin's routes accept form bodies. fast-querystring
  // turns a repeated key into an array, which the schema then refuses.
  await app.register(formbody);
  const routes = app.withTypeProvider<ZodTypeProvider>();

  const record = (request: FastifyRequest, event: Parameters<AuditWriter['record']>[0]) =>
    mustAudit(() => audit.record({ ...event, requestId: request.id, ...optionalTrace(request) }));

  if (metrics) {
    app.addHook('onResponse', (request, reply, done) => {
      const refusal = refusalOf(request);
      metrics.exchanged(refusal?.code ?? (reply.statusCode === 200 ? 'issued' : 'TV_SERVER_ERROR'), trails.get(request) ?? {});
      done();
    });
  }

  routes.post(
    '/exchange',
    {
      schema: {
        summary: 'Token exchange (RFC 8693): a single-operation token for an agent acting for a user',
        description:
          'An operation that needs approval answers 400 `authorization_pending` with `auth_req_id`, `expires_in` and `interval`; ' +
          'poll with `grant_type=urn:openid:params:grant-type:ciba` and that `auth_req_id` (OpenID CIBA Core 1.0 poll mode).',
        tags: ['exchange'],
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: tokenRequest,
        response: { 200: exchangeResponse, 400: oauthErrorBody, 401: oauthErrorBody, 403: oauthErrorBody, 502: oauthErrorBody, 503: oauthErrorBody },
      },
      config: {
        peer: ['gateway'],
        // A refusal is recorded, with the identities known when it happened, before it is answered.
        auditRefusal: (request, outcome) =>
          record(request, { action: 'token.exchange', ...outcome, ...(trails.get(request) ?? { gateway: request.peer?.id }) }),
      },
      // RFC 6749 §5.2: another grant type is `unsupported_grant_type`, not a malformed request, so it
      // is decided before the schema (which only knows token exchange and the CIBA poll) refuses the body.
      preValidation: (request, _reply, done) => {
        const grantType = (request.body as { grant_type?: unknown } | null | undefined)?.grant_type;
        if (typeof grantType === 'string' && grantType !== GRANT_TYPE_TOKEN_EXCHANGE && grantType !== GRANT_TYPE_CIBA) {
          done(new UnsupportedGrantType('grant_type is not token exchange').because('grant_type is not supported'));
        } else done();
      },
      // The response schema documents the answer (openapi.yaml); the handler builds it from typed
      // values, so re-validating our own output with zod on the hot path buys nothing.
      serializerCompiler: () => (data) => JSON.stringify(data),
    },
    async (request, reply) => {
      const trail: ExchangeTrail = {};
      trails.set(request, trail);
      const { body } = request;
      const result =
        body.grant_type === GRANT_TYPE_CIBA ? await exchange.poll(body, request.peer, trail) : await exchange.exchange(body, request.peer, trail, request.id);
      // The token's record and its audit record go out together (one Redis round trip); the
      // token is sent only when both are durable. If only the record landed, the token was
      // never sent and the record is unreachable without the signed JWT (random jti); if only
      // the audit landed, the trail over-reports an issue that never left, never under-reports.
      await span('exchange.audit', () =>
        Promise.all([
          result.stored,
          record(request, {
            action: 'token.exchange',
            decision: 'allow',
            ...trail,
            tokenHmac: audit.tokenHmac(result.released),
            details: {
              issued_token_type: result.body.issued_token_type,
              expires_in: result.body.expires_in,
              ...(body.grant_type === GRANT_TYPE_CIBA && { approved: true }),
            },
          }),
        ]),
      );
      return reply.headers(NO_STORE).send(result.body);
    },
  );
};

function optionalTrace(request: FastifyRequest): { traceId?: string } {
  const traceId = auditTraceId(request);
  return traceId ? { traceId } : {};
}
