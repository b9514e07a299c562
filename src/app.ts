/**
 * buildApp(config, deps): both listeners with every plugin and route, in one
 * readable list. Never listens; `listen()` on the result does.
 */
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import type { Config } from './config/schema.js';
import { createListener } from './http/server.js';
import { Admission } from './http/admission.js';
import { registerOpenApi } from './http/openapi.js';
import { trustPolicy, type TlsMaterial } from './identity/tls-material.js';
import { mtlsIdentity } from './identity/mtls-plugin.js';
import type { Checkpointer } from './audit/index.js';
import type { RevocationWorker } from './grants/revocation-worker.js';
import type { DeliveryWorker } from './webhooks/delivery-worker.js';
import { buildServices, type ServiceDeps } from './services.js';
import { healthRoutes } from './health/routes.js';
import { discoveryRoutes } from './discovery/routes.js';
import { linkingPages } from './linking/plugin.js';
import { exchangeRoutes } from './exchange/routes.js';
import { introspectionRoutes } from './exchange/introspection.js';
import { OperationTokenRedeemer } from './forward/redeem.js';
import { UpstreamCaller } from './forward/upstream-call.js';
import { forwardRoutes } from './forward/routes.js';
import { adminRoutes } from './admin/routes.js';
import { VaultMetrics } from './metrics/metrics.js';
import { createMetricsListener } from './metrics/listener.js';
import { grantCensus } from './metrics/grant-census.js';
import type { AuditWriterMetrics } from './audit/index.js';
import type { Archiver } from './audit/archive/index.js';

export interface AppDeps extends ServiceDeps {
  tls: TlsMaterial;
  /** Signs audit chain heads outside Redis; the admin API reports its latest checkpoint. */
  checkpointer: Checkpointer;
  /** Client secret of the consent pages at the IdP (identity.login). */
  loginClientSecret?: string | undefined;
  /** Where logs go (tests capture them); default stdout. */
  logStream?: DestinationStream;
  /** Where the runtime's audit writer reports its appends (boot.ts); this app's metrics go there. */
  auditMetrics?: { current?: AuditWriterMetrics | undefined };
  /** The PostgreSQL audit archive's archiver (boot.ts): runs from listen() to close(). */
  archive?: { archiver: Archiver } | undefined;
}

export interface VaultApp {
  public: FastifyInstance;
  internal: FastifyInstance;
  /** Retries failed upstream revocations; started by listen(). */
  revocations: RevocationWorker;
  /** Delivers queued webhook messages; started by listen(). */
  webhookDelivery: DeliveryWorker;
  /** The app's metrics (one registry per app), when `listeners.metrics.enabled`. */
  metrics: VaultMetrics | undefined;
  /** Bind the listeners; resolves with their base URLs (`metricsUrl` when metrics are on). */
  listen(): Promise<{ publicUrl: string; internalUrl: string; metricsUrl?: string }>;
  /** Stop accepting, drain in-flight requests, close both listeners. Stores are the caller's. */
  close(): Promise<void>;
}

export async function buildApp(config: Config, deps: AppDeps): Promise<VaultApp> {
  const { stores, keys, tls, logStream, audit, catalog } = deps;
  const keysLoaded = () => !keys.keyring.isSealed();

  // Samples a scrape computes, from services built below.
  let snapshotAgeMs = () => Infinity;
  const metrics = config.listeners.metrics.enabled
    ? new VaultMetrics(config, {
        killSwitchSnapshotAgeSeconds: () => snapshotAgeMs() / 1000,
        grantsByStatus: grantCensus(stores.grants),
        ...(deps.archive && { auditArchiveLag: () => deps.archive!.archiver.lag() }),
      })
    : undefined;
  const metricsListener = metrics && createMetricsListener(metrics);
  stores.observe?.(metrics?.store);
  if (deps.auditMetrics) deps.auditMetrics.current = metrics?.audit;

  const pub = createListener({ config, listener: 'public', logStream, metrics: metrics?.http, tls: { cert: tls.cert, key: tls.key } });
  const internal = createListener({
    config,
    listener: 'internal',
    logStream,
    metrics: metrics?.http,
    tls: {
      cert: tls.cert,
      key: tls.key,
      ca: [tls.gatewayCa, tls.adminCa],
      requestCert: true,
      rejectUnauthorized: true,
    },
  });
  const services = await buildServices(config, deps, { public: pub.log, internal: internal.log }, metrics?.upstreamAccess, metrics?.webhooks);
  const { issuer, internalUrl, killSwitchCache, upstreamAccess, revocations, globalKill, webhookDelivery } = services;
  snapshotAgeMs = () => killSwitchCache.snapshotAgeMs();
  // Before anything is served: a rotation spooled by an earlier process is pending here first, so
  // no exchange presents the refresh token it replaced (src/grants/rotations.ts).
  await upstreamAccess.rotations.replay();

  await registerOpenApi(pub);
  await registerOpenApi(internal);

  // Public listener: pages, callbacks, discovery, health.
  await pub.register(healthRoutes, { stores, keysLoaded });
  await pub.register(discoveryRoutes, { issuer, internalUrl, signingKeys: keys.signingKeys, catalog });
  if (config.identity.login) {
    await pub.register(linkingPages, {
      config,
      stores,
      catalog,
      links: services.links,
      consents: services.consents,
      approvals: services.approvals,
      loginClientSecret: deps.loginClientSecret,
    });
  }

  // Internal listener: every request proves an allowlisted client certificate first.
  await internal.register(mtlsIdentity, { policy: trustPolicy(config, tls) });
  await internal.register(healthRoutes, { stores, keysLoaded, ...(deps.archive && { archiveLag: () => deps.archive!.archiver.lag() }) });
  const admission = new Admission(config.limits.admission);
  await internal.register(exchangeRoutes, { exchange: services.exchange, audit, metrics: metrics?.exchange, admission });
  await internal.register(forwardRoutes, {
    redeemer: new OperationTokenRedeemer({
      issuer,
      signingKeys: keys.signingKeys,
      // Tokens this vault minted get no tolerance past `exp`: their Redis record ends there too.
      clockSkewSeconds: 0,
      catalog,
      tokens: stores.tokens,
      grants: stores.grants,
      killSwitches: killSwitchCache,
      prefetch: (id) => upstreamAccess.prefetch(id),
    }),
    caller: new UpstreamCaller(upstreamAccess, config.limits.forward),
    audit,
    limits: config.limits.forward,
    vaultHosts: [new URL(internalUrl).host],
    metrics: metrics?.forward,
  });
  await internal.register(introspectionRoutes, {
    issuer,
    signingKeys: keys.signingKeys,
    clockSkewSeconds: 0,
    tokens: stores.tokens,
    grants: stores.grants,
    killSwitches: killSwitchCache,
  });
  await killSwitchCache.start();
  await internal.register(adminRoutes, {
    prefix: '/admin',
    jwt: services.adminJwt,
    audit,
    killSwitches: services.killSwitches,
    auditStore: stores.audit,
    checkpointer: deps.checkpointer,
    auditHmacKey: keys.auditHmacKey,
    custodian: services.custodian,
    rewrap: services.rewrap,
    grants: { stores, retirement: services.retirement },
    webhookQueue: stores.webhooks,
    approvals: services.approvals,
  });
  await globalKill.start();

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
    webhookDelivery,
    metrics,
    async listen() {
      revocations.start();
      webhookDelivery.start();
      deps.archive?.archiver.start();
      const { public: publicAt, internal: internalAt, metrics: metricsAt } = config.listeners;
      const metricsUrl = await metricsListener?.listen(metricsAt.host, metricsAt.port);
      await pub.listen({ host: publicAt.host, port: publicAt.port });
      await internal.listen({ host: internalAt.host, port: internalAt.port });
      return { publicUrl: url(pub), internalUrl: url(internal), ...(metricsUrl !== undefined && { metricsUrl }) };
    },
    async close() {
      killSwitchCache.stop();
      await globalKill.stop();
      await revocations.stop();
      await webhookDelivery.stop();
      await deps.archive?.archiver.stop();
      await Promise.all([pub.close(), internal.close(), metricsListener?.close()]);
      // A rotation still waiting for the store is on disk before the process may exit.
      await upstreamAccess.rotations.close();
      // After the last request's audit records: their heads are signed before the process exits.
      await deps.checkpointer.stop();
      // The other processes' writers take this one's audit chain at once, not when its presence runs out.
      await deps.audit.leave?.().catch(() => {});
    },
  };
}
