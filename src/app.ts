/**
 * buildApp(config, deps): both listeners with every plugin and route, in one
 * readable list. Never listens; `listen()` on the result does.
 */
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import type { Config } from './config/schema.js';
import type { KeyMaterial } from './crypto/key-files.js';
import type { Stores } from './store/types.js';
import { createListener } from './http/server.js';
import { trustPolicy, type TlsMaterial } from './http/tls-material.js';
import { mtlsIdentity } from './identity/mtls-plugin.js';
import { healthRoutes } from './health/routes.js';
import { registerOpenApi } from './http/openapi.js';
import { createAuditWriter, type AuditWriter } from './audit/index.js';
import type { Envelope } from './crypto/envelope.js';
import type { ProviderCatalog } from './providers/catalog.js';
import type { UpstreamOAuth } from './providers/upstream-oauth.js';
import { TokenVerifier } from './identity/token-verifier.js';
import { KillSwitchCache } from './exchange/kill-switches.js';
import { GrantPolicy } from './exchange/grant-policy.js';
import { UpstreamAccessTokens, auditRefresh } from './exchange/upstream-access.js';
import { TokenExchange } from './exchange/token-exchange.js';
import { exchangeRoutes } from './exchange/routes.js';
import { introspectionRoutes } from './exchange/introspection.js';
import { discoveryRoutes } from './discovery/routes.js';

export interface AppDeps {
  stores: Stores;
  keys: KeyMaterial;
  tls: TlsMaterial;
  envelope: Envelope;
  catalog: ProviderCatalog;
  upstream: UpstreamOAuth;
  /** Replaces the hash-chained audit writer over `stores.audit` (tests: a failing writer). */
  audit?: AuditWriter;
  /** Where logs go (tests capture them); default stdout. */
  logStream?: DestinationStream;
}

export interface VaultApp {
  public: FastifyInstance;
  internal: FastifyInstance;
  /** Bind both listeners; resolves with their base URLs. */
  listen(): Promise<{ publicUrl: string; internalUrl: string }>;
  /** Stop accepting, drain in-flight requests, close both listeners. Stores are the caller's. */
  close(): Promise<void>;
}

export async function buildApp(config: Config, deps: AppDeps): Promise<VaultApp> {
  const { stores, keys, tls, logStream, catalog } = deps;
  const keysLoaded = () => !keys.keyring.isSealed();
  const { issuer, internalUrl, audience } = exchangeUrls(config);

  const pub = createListener({ config, listener: 'public', logStream, tls: { cert: tls.cert, key: tls.key } });
  const internal = createListener({
    config,
    listener: 'internal',
    logStream,
    tls: {
      cert: tls.cert,
      key: tls.key,
      ca: [tls.gatewayCa, tls.adminCa],
      requestCert: true,
      rejectUnauthorized: true,
    },
  });

  // Audit before answer (STYLE 9): every record is durable in the store, then mirrored to the log.
  const audit =
    deps.audit ?? createAuditWriter({ store: stores.audit, hmacKey: keys.auditHmacKey, log: (record) => internal.log.info({ audit: record }, 'audit') });

  const killSwitches = new KillSwitchCache(stores.killSwitches);
  const policy = new GrantPolicy(stores.grants, catalog, issuer);
  const exchange = new TokenExchange({
    issuer,
    catalog,
    verifier: await TokenVerifier.create(config.identity, audience),
    killSwitches,
    policy,
    upstream: new UpstreamAccessTokens(stores, deps.envelope, catalog, deps.upstream, {}, auditRefresh(audit)),
    tokens: stores.tokens,
    signingKeys: keys.signingKeys,
  });

  await registerOpenApi(pub);
  await registerOpenApi(internal);

  // Public listener: pages, callbacks, discovery, health.
  await pub.register(healthRoutes, { stores, keysLoaded });
  await pub.register(discoveryRoutes, { issuer, internalUrl, signingKeys: keys.signingKeys, catalog });

  // Internal listener: every request proves an allowlisted client certificate first.
  await internal.register(mtlsIdentity, { policy: trustPolicy(config, tls) });
  await internal.register(healthRoutes, { stores, keysLoaded });
  await internal.register(exchangeRoutes, { exchange, audit });
  await internal.register(introspectionRoutes, { issuer, signingKeys: keys.signingKeys, tokens: stores.tokens, killSwitches });

  await killSwitches.start();

  await Promise.all([pub.ready(), internal.ready()]);

  const url = (app: FastifyInstance) => {
    const address = app.server.address();
    if (!address || typeof address === 'string') throw new Error('listener has no TCP address');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `https://${host}:${address.port}`;
  };

  return {
    public: pub,
    internal,
    async listen() {
      await pub.listen({ host: config.listeners.public.host, port: config.listeners.public.port });
      await internal.listen({ host: config.listeners.internal.host, port: config.listeners.internal.port });
      return { publicUrl: url(pub), internalUrl: url(internal) };
    },
    async close() {
      killSwitches.stop();
      await Promise.all([pub.close(), internal.close()]);
    },
  };
}

/**
 * Issuer of operation tokens (publicUrl), the internal URL published in the
 * metadata, and the `aud` identity tokens must carry (default: publicUrl).
 */
function exchangeUrls(config: Config): { issuer: string; internalUrl: string; audience: string } {
  const issuer = config.publicUrl ?? `https://localhost:${config.listeners.public.port}`;
  let internalUrl = config.internalUrl;
  if (!internalUrl) {
    const url = new URL(issuer);
    url.port = String(config.listeners.internal.port);
    internalUrl = url.origin;
  }
  return { issuer, internalUrl, audience: config.audience ?? issuer };
}
