/**
 * One Fastify instance per listener, with the settings both share:
 * HTTPS, timeouts (Fastify's are off by default), body limit, request ids,
 * zod validation, the single error handler, a not-found handler and, when
 * metrics are on, one timing per request.
 */
import { randomUUID } from 'node:crypto';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpServer } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyListenOptions } from 'fastify';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import type { DestinationStream } from 'pino';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Config } from '../config/schema.js';
import { NotFound, TemporarilyUnavailable } from '../errors.js';
import { answerClientError, errorHandler } from './error-handler.js';
import { loggerOptions } from './logging.js';
import { httpTracingPlugin } from '../tracing/setup.js';
import { enterStoreBudget } from '../store/budget.js';

/** Told of every answered request (the app's metrics): `route` is the route pattern, undefined when none matched. */
export interface HttpMetrics {
  request(listener: string, route: string | undefined, status: number, seconds: number): void;
}

/**
 * An `X-Request-Id` from the gateway is kept when it is well formed, so one id follows a call
 * through the gateway's, the vault's and the audit trail's records. It only correlates: every
 * identity in a record comes from verified credentials. Anything else gets a fresh UUID.
 */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

export interface ListenerOptions {
  config: Config;
  tls: SecureContextOptions & Pick<TlsOptions, 'requestCert' | 'rejectUnauthorized'>;
  logStream?: DestinationStream | undefined;
  /** Name shown in logs. */
  listener: 'public' | 'internal';
  metrics?: HttpMetrics | undefined;
}

export function createListener({ config, tls, logStream, listener, metrics }: ListenerOptions): FastifyInstance {
  const { limits } = config;
  const app = Fastify({
    // Our own factory so both listeners are HTTPS while keeping Fastify's default
    // (http) typings; the timeouts Fastify would set on its own server are set here.
    serverFactory: (handler) => {
      // Cipher policy and lowest version from config (schema.ts: TLS 1.3, TLS 1.2 ECDHE + AEAD only); the server's order wins.
      const { ciphers, minVersion } = config.tls;
      // Node checks request/headers timeouts only every connectionsCheckingInterval (30 s by default).
      const server = createHttpsServer({ ...tls, ciphers, minVersion, honorCipherOrder: true, connectionsCheckingInterval: 1000 }, handler);
      server.requestTimeout = limits.requestTimeoutMs;
      server.headersTimeout = Math.min(limits.requestTimeoutMs, 10_000);
      server.keepAliveTimeout = limits.keepAliveTimeoutMs;
      server.setTimeout(limits.connectionTimeoutMs);
      return server as unknown as HttpServer;
    },
    logger: loggerOptions(config.log.level, logStream),
    bodyLimit: limits.bodyBytes,
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.connectionTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Fastify's own 503 while closing bypasses the error handler; the onRequest hook below answers it.
    return503OnClosing: false,
    // On close, idle keep-alive connections are closed at once rather than held until keepAliveTimeout.
    forceCloseConnections: 'idle',
    requestIdHeader: false,
    genReqId: (req) => requestIdOf(req.headers['x-request-id']),
    routerOptions: { ignoreTrailingSlash: false, caseSensitive: true, maxParamLength: 256 },
    // What Fastify would answer itself, echoing input (a bad URL encoding, an over-long parameter),
    // and what Node's parser refuses before any request exists, go through the one error handler.
    frameworkErrors: errorHandler,
    clientErrorHandler: (err, socket) => answerClientError(err, socket, app.log),
  });
  app.log = app.log.child({ listener });
  // Request spans (tracing on only); first, so every route registered after it is instrumented.
  const tracing = httpTracingPlugin();
  if (tracing) void app.register(tracing);
  // Fastify names the scheme in its "Server listening at" line after its own `https` option, which
  // the server factory above stands in for: both listeners are HTTPS.
  const listen = app.listen.bind(app) as (options: FastifyListenOptions) => Promise<string>;
  app.listen = ((options: FastifyListenOptions) =>
    listen({ listenTextResolver: (address) => `Server listening at ${address.replace(/^http:/, 'https:')}`, ...options })) as FastifyInstance['listen'];
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => errorHandler(new NotFound(`no route ${request.method}`), request, reply));
  // Only JSON (and, where a route registers it, form bodies) are accepted; text/plain is not an API format.
  app.removeContentTypeParser('text/plain');
  // Draining: a request still arriving on a busy kept-alive connection gets 503 + Retry-After, and one
  // still in flight is answered with `Connection: close`: either connection would otherwise go idle
  // after the close-time sweep and hold the shutdown open.
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  // First hook: every store call and audit wait of the request shares one budget (src/store/budget.ts).
  const storeTimeoutMs = config.store.redis.commandTimeoutMs;
  app.addHook('onRequest', (_request, reply, done) => {
    enterStoreBudget(storeTimeoutMs);
    if (!closing) return done();
    reply.header('connection', 'close');
    done(new TemporarilyUnavailable('listener closing'));
  });
  // Callback style: an async hook costs a promise and a microtask on every response.
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-request-id', reply.request.id);
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  if (metrics) {
    app.addHook('onResponse', (request, reply, done) => {
      metrics.request(listener, request.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }
  return app;
}
