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
import { createAuditWriter } from './audit/writer.js';
import type { AuditWriter } from './audit/events.js';
import type { Envelope } from './crypto/envelope.js';
import type { ProviderCatalog } from './providers/catalog.js';
import type { UpstreamOAuth } from './providers/upstream-oauth.js';
import { LinkService } from './linking/link-service.js';
import { linkingPages } from './linking/plugin.js';
import { createRevocationWorker, type RevocationWorker } from './linking/revocation-worker.js';

export interface AppDeps {
  stores: Stores;
  keys: KeyMaterial;
  tls: TlsMaterial;
  envelope: Envelope;
  catalog: ProviderCatalog;
  upstream: UpstreamOAuth;
  /** Default: the hash-chained writer on `stores.audit`, mirrored to the public listener's log. */
  audit?: AuditWriter;
  /** Client secret of the consent pages at the IdP (identity.login). */
  loginClientSecret?: string | undefined;
  /** Where logs go (tests capture them); default stdout. */
  logStream?: DestinationStream;
}

export interface VaultApp {
  public: FastifyInstance;
  internal: FastifyInstance;
  /** Retries failed upstream revocations; started by listen(). */
  revocations: RevocationWorker;
  /** Bind both listeners; resolves with their base URLs. */
  listen(): Promise<{ publicUrl: string; internalUrl: string }>;
  /** Stop accepting, drain in-flight requests, close both listeners. Stores are the caller's. */
  close(): Promise<void>;
}

export async function buildApp(config: Config, deps: AppDeps): Promise<VaultApp> {
  const { stores, keys, tls, logStream, envelope, catalog, upstream } = deps;
  const keysLoaded = () => !keys.keyring.isSealed();

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

  await registerOpenApi(pub);
  await registerOpenApi(internal);

  const audit = deps.audit ?? createAuditWriter({ store: stores.audit, hmacKey: keys.auditHmacKey, log: (record) => pub.log.info({ audit: record }, 'audit') });
  const { baseDelayMs, maxDelayMs, intervalMs } = config.linking.revocationRetry;
  const links = new LinkService({ stores, envelope, catalog, upstream, audit, retry: { baseDelayMs, maxDelayMs } });
  const revocations = createRevocationWorker({ stores, envelope, upstream, audit, log: pub.log, intervalMs, baseDelayMs, maxDelayMs });

  // Public listener: pages, callbacks, discovery, health.
  await pub.register(healthRoutes, { stores, keysLoaded });
  if (config.identity.login) {
    await pub.register(linkingPages, { config, stores, catalog, links, loginClientSecret: deps.loginClientSecret });
  }

  // Internal listener: every request proves an allowlisted client certificate first.
  await internal.register(mtlsIdentity, { policy: trustPolicy(config, tls) });
  await internal.register(healthRoutes, { stores, keysLoaded });

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
    revocations,
    async listen() {
      revocations.start();
      await pub.listen({ host: config.listeners.public.host, port: config.listeners.public.port });
      await internal.listen({ host: config.listeners.internal.host, port: config.listeners.internal.port });
      return { publicUrl: url(pub), internalUrl: url(internal) };
    },
    async close() {
      await revocations.stop();
      await Promise.all([pub.close(), internal.close()]);
    },
  };
}
