/**
 * /forward/{provider}/{path} on the internal listener, gateway role: the
 * gateway sends the real upstream request here with its operation token; the
 * vault redeems the token, injects the upstream access token and streams the
 * provider's answer back (docs/architecture.md#forward).
 *
 * Audit ("nothing released without a record"): a refused forward is recorded
 * before its error is answered. A redeemed forward is recorded twice: an
 * intent record (phase `intent`: operation, method, path template) before
 * anything is sent upstream, so the trail holds every request a provider may
 * have acted on even if no later write succeeds; a forward whose intent cannot
 * be written is never sent (503). The outcome record (phase `outcome`) follows
 * once the provider's status and headers are in, before the first byte of its
 * answer is relayed; if that write fails, the answer is dropped and the
 * gateway gets 503. It carries the request bytes, the upstream status, the
 * declared response length, whether the request was retried and the time to
 * the upstream's headers; the bytes actually relayed and the total duration
 * are known only after the stream ends and go to the log line that closes it.
 */
import type { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditEventInput, AuditWriter } from '../audit/events.js';
import { InvalidRequest, PayloadTooLarge, oauthErrorBody } from '../errors.js';
import { mustAudit } from '../http/audited-route.js';
import { auditTraceId } from '../http/trace.js';
import { declaredLength, hasBody, type ForwardOutcome, type ForwardLimits, type UpstreamCaller } from './upstream-call.js';
import type { ForwardTrail, OperationTokenRedeemer, VaultAuthority } from './redeem.js';
import { boundBody } from './bound-body.js';

/** Told of every upstream call (the app's metrics): its status, undefined when no answer came, and how long until the relay ended. */
export interface ForwardMetrics {
  upstream(provider: string | undefined, status: number | undefined, seconds: number): void;
}

export interface ForwardRouteOptions {
  redeemer: OperationTokenRedeemer;
  caller: UpstreamCaller;
  audit: AuditWriter;
  limits: ForwardLimits;
  /** Host names (with port) gateways are told to use for the internal listener (`internalUrl`). */
  vaultHosts: readonly string[];
  metrics?: ForwardMetrics | undefined;
}

/** The methods an operation can name (providers/schema.ts). */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

interface Progress {
  trail: ForwardTrail;
  outcome: ForwardOutcome;
  started: number;
  template?: string;
  /** The intent record is written: every later record of this forward is its outcome. */
  intent?: true;
}

const progress = new WeakMap<FastifyRequest, Progress>();

function details(request: FastifyRequest, p: Progress, extra: Record<string, number | string | boolean> = {}): NonNullable<AuditEventInput['details']> {
  return {
    ...(p.intent && { phase: 'outcome' }),
    method: request.method,
    ...(p.template !== undefined && { path: p.template }),
    ...(p.outcome.upstreamStatus !== undefined && { upstreamStatus: p.outcome.upstreamStatus }),
    ...(p.outcome.requestBytes !== undefined && { requestBytes: p.outcome.requestBytes }),
    ...(p.intent && { retried: p.outcome.retried === true }),
    durationMs: Math.round(performance.now() - p.started),
    ...extra,
  };
}

export const forwardRoutes: FastifyPluginAsync<ForwardRouteOptions> = async (app, { redeemer, caller, audit, limits, vaultHosts, metrics }) => {
  // Bodies are relayed as they arrive, never parsed: whatever the content type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const names: ConnectionNames = new WeakMap();

  const record = (request: FastifyRequest, event: AuditEventInput) => {
    const traceId = auditTraceId(request);
    return mustAudit(() => audit.record({ ...event, requestId: request.id, ...(traceId ? { traceId } : {}) }));
  };

  routes.route({
    method: METHODS,
    url: '/forward/:provider/*',
    schema: {
      summary: 'Credential injection: redeem an operation token for one upstream request, relayed to the provider',
      description:
        'Send the real upstream request with `Authorization: Bearer <operation token>` on the certificate the token is bound to. ' +
        "The provider answer (any status) is streamed back; the errors below are the vault's own.",
      tags: ['forward'],
      'x-relayed-answer': 'The provider answer, relayed as it is (any status the provider gives; the statuses below are the vault’s own)',
      params: z.object({ provider: z.string(), '*': z.string() }),
      response: { 401: oauthErrorBody, 403: oauthErrorBody, 413: oauthErrorBody, 502: oauthErrorBody, 503: oauthErrorBody, 504: oauthErrorBody },
    },
    config: {
      peer: ['gateway'],
      // A refusal is recorded, with what was known when it happened, before it is answered.
      auditRefusal: (request, outcome) => {
        const p = progress.get(request) ?? { trail: { gateway: request.peer?.id }, outcome: {}, started: performance.now() };
        return record(request, { action: 'token.forward', ...outcome, ...p.trail, details: details(request, p) });
      },
    },
    exposeHeadRoute: false,
    serializerCompiler: () => (data) => JSON.stringify(data),
    // Before the error handler: a body the gateway is still sending is not wanted, so the connection closes after the answer.
    onError: (request, reply, _error, done) => {
      if (hasBody(request.headers) && !request.raw.complete) reply.header('connection', 'close');
      done();
    },
    handler: async (request, reply) => {
      const p: Progress = { trail: {}, outcome: {}, started: performance.now() };
      progress.set(request, p);
      const declared = declaredLength(request.headers);
      if (declared !== null && declared > limits.requestBodyBytes) {
        p.trail.gateway = request.peer.id;
        throw new PayloadTooLarge('declared body above the forward limit');
      }
      // Fastify does not read a GET/HEAD body; refuse one before any use is spent.
      if ((request.method === 'GET' || request.method === 'HEAD') && hasBody(request.headers)) {
        p.trail.gateway = request.peer.id;
        throw new InvalidRequest('a GET or HEAD request with a body');
      }
      const redeemed = await redeemer.redeem(
        request.raw.url ?? '',
        request.method,
        request.headers.authorization,
        request.peer,
        vaultAuthority(request, vaultHosts, names),
        p.trail,
      );
      p.template = redeemed.template;
      const streamed = hasBody(request.headers) ? (request.body as Readable) : null;
      // A bound token's body must match before anything is sent (the use is already spent).
      const body = redeemed.action ? await boundBody(streamed, redeemed.action.bodySha256, limits.requestBodyBytes) : streamed;
      // Before anything leaves for the provider (token refresh included): no record, no request.
      await record(request, { action: 'token.forward', decision: 'allow', ...p.trail, details: { phase: 'intent', method: request.method, path: p.template } });
      p.intent = true;
      const sent = performance.now();
      const answer = await caller.send(redeemed, request.method, request.headers, body, p.outcome).catch((err: unknown) => {
        metrics?.upstream(p.trail.provider, undefined, (performance.now() - sent) / 1000);
        throw err;
      });
      try {
        await record(request, {
          action: 'token.forward',
          decision: 'allow',
          ...p.trail,
          details: details(request, p, answer.declaredBytes === null ? {} : { responseBytes: answer.declaredBytes }),
        });
      } catch (err) {
        answer.body.destroy();
        throw err;
      }
      answer.body.once('close', () => {
        const complete = answer.body.readableEnded;
        metrics?.upstream(p.trail.provider, answer.status, (performance.now() - sent) / 1000);
        request.log.info(
          {
            forward: {
              jti: p.trail.jti,
              upstreamStatus: answer.status,
              responseBytes: answer.body.bytes,
              complete,
              durationMs: Math.round(performance.now() - p.started),
            },
          },
          complete ? 'forward relayed' : 'forward relay cut short',
        );
      });
      // The provider's own status and body: outside the typed (vault error) responses.
      const relay = reply as unknown as FastifyReply;
      return relay.code(answer.status).headers(answer.headers).send(answer.body);
    },
  });
};

/**
 * The names this request may use for the vault: the TLS SNI name it connected with, the address
 * and port it connected to, and the configured internal URL's host. Any other Host is forged or misrouted (RFC 9110 §7.4) and is refused.
 */
function vaultAuthority(request: FastifyRequest, vaultHosts: readonly string[], names: ConnectionNames): VaultAuthority {
  const socket = request.raw.socket as import('node:tls').TLSSocket;
  let allowed = names.get(socket);
  if (!allowed) {
    allowed = connectionNames(socket, vaultHosts);
    names.set(socket, allowed);
  }
  return { host: request.headers.host?.toLowerCase(), allowed };
}

/** The names of each open connection: its local address, port and SNI name cannot change while it is open. */
type ConnectionNames = WeakMap<import('node:tls').TLSSocket, ReadonlySet<string>>;

function connectionNames(socket: import('node:tls').TLSSocket, vaultHosts: readonly string[]): ReadonlySet<string> {
  const port = socket.localPort;
  const address = socket.localAddress ?? '';
  const allowed = new Set<string>([`${address.includes(':') ? `[${address}]` : address}:${port}`, ...vaultHosts.map((h) => h.toLowerCase())]);
  const sni = typeof socket.servername === 'string' ? socket.servername : '';
  if (sni) allowed.add(`${sni.toLowerCase()}:${port}`);
  if (port === 443) for (const name of [...allowed]) allowed.add(name.slice(0, name.lastIndexOf(':')));
  return allowed;
}
