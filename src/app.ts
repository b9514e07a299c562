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
import type { AuditWriter, Checkpointer } from './audit/index.js';
import { adminRoutes } from './admin/routes.js';
import { createAdminJwtVerifier } from './admin/admin-jwt.js';
import { KeyCustodian } from './admin/key-custodian.js';
import { KillSwitchControl } from './admin/kill-switch-control.js';
import { GlobalKillWatcher } from './admin/global-kill-watcher.js';
import { RewrapRuns } from './admin/rewrap-runs.js';
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
import { OperationTokenRedeemer } from './forward/redeem.js';
import { UpstreamCaller } from './forward/upstream-call.js';
import { forwardRoutes } from './forward/routes.js';
import { discoveryRoutes } from './discovery/routes.js';
import { LinkService } from './linking/link-service.js';
import { linkingPages } from './linking/plugin.js';
import { createRevocationWorker, type RevocationWorker } from './linking/revocation-worker.js';

export interface AppDeps {
  stores: Stores;
  keys: KeyMaterial;
  tls: TlsMaterial;
  /** Fail-closed, hash-chained audit writer. */
  audit: AuditWriter;
  /** Signs audit chain heads outside Redis; the admin API reports its latest checkpoint. */
  checkpointer: Checkpointer;
  /** Opens and seals grant secrets with `keys.keyring` (the rewrap job, grant secrets on exchange). */
  envelope: Envelope;
  catalog: ProviderCatalog;
  upstream: UpstreamOAuth;
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
  const { stores, keys, tls, logStream, audit, envelope, catalog, upstream } = deps;
  const keysLoaded = () => !keys.keyring.isSealed();
  const custodian = new KeyCustodian({ keys, dir: config.keys.dir });
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

  const logError = (what: string) => (err: unknown) => internal.log.error({ err: { type: err instanceof Error ? err.name : 'unknown' } }, what);
  // Kill-switch enforcement on the exchange path (the admin API below engages them).
  const killSwitchCache = new KillSwitchCache(stores.killSwitches, {
    events: stores.killSwitchEvents,
    onError: logError('kill-switch subscription failed'),
  });
  const policy = new GrantPolicy(stores.grants, catalog, issuer);
  // One instance for /exchange and /forward: one in-process single flight per grant.
  const upstreamAccess = new UpstreamAccessTokens(stores, envelope, catalog, upstream, {}, auditRefresh(audit));
  const exchange = new TokenExchange({
    issuer,
    catalog,
    verifier: await TokenVerifier.create(config.identity, audience),
    killSwitches: killSwitchCache,
    policy,
    upstream: upstreamAccess,
    tokens: stores.tokens,
    signingKeys: keys.signingKeys,
  });

  await registerOpenApi(pub);
  await registerOpenApi(internal);

  const { baseDelayMs, maxDelayMs, intervalMs } = config.linking.revocationRetry;
  const links = new LinkService({ stores, envelope, catalog, upstream, audit, retry: { baseDelayMs, maxDelayMs } });
  const revocations = createRevocationWorker({ stores, envelope, upstream, audit, log: pub.log, intervalMs, baseDelayMs, maxDelayMs });

  // Public listener: pages, callbacks, discovery, health.
  await pub.register(healthRoutes, { stores, keysLoaded });
  await pub.register(discoveryRoutes, { issuer, internalUrl, signingKeys: keys.signingKeys, catalog });
  if (config.identity.login) {
    await pub.register(linkingPages, { config, stores, catalog, links, loginClientSecret: deps.loginClientSecret });
  }

  // Internal listener: every request proves an allowlisted client certificate first.
  await internal.register(mtlsIdentity, { policy: trustPolicy(config, tls) });
  await internal.register(healthRoutes, { stores, keysLoaded });
  await internal.register(exchangeRoutes, { exchange, audit });
  await internal.register(forwardRoutes, {
    redeemer: new OperationTokenRedeemer({
      issuer,
      signingKeys: keys.signingKeys,
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
  });
  await internal.register(introspectionRoutes, {
    issuer,
    signingKeys: keys.signingKeys,
    tokens: stores.tokens,
    grants: stores.grants,
    killSwitches: killSwitchCache,
  });
  await killSwitchCache.start();
  const killSwitches = new KillSwitchControl(stores, custodian, logError('kill-switch announcement failed'));
  await internal.register(adminRoutes, {
    prefix: '/admin',
    jwt: config.admins.jwt ? await createAdminJwtVerifier(config.admins.jwt) : undefined,
    audit,
    killSwitches,
    auditStore: stores.audit,
    checkpointer: deps.checkpointer,
    auditHmacKey: keys.auditHmacKey,
    custodian,
    rewrap: new RewrapRuns(stores, envelope, keys.keyring),
    grants: { stores, links },
  });
  const globalKill = new GlobalKillWatcher({ stores, custodian, onError: logError('global kill-switch check failed') });
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
    async listen() {
      revocations.start();
      await pub.listen({ host: config.listeners.public.host, port: config.listeners.public.port });
      await internal.listen({ host: config.listeners.internal.host, port: config.listeners.internal.port });
      return { publicUrl: url(pub), internalUrl: url(internal) };
    },
    async close() {
      killSwitchCache.stop();
      await globalKill.stop();
      deps.checkpointer.stop();
      await revocations.stop();
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
