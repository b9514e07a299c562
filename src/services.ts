/**
 * buildServices(config, deps): the domain services both listeners share, built once from
 * config, stores and key material. Nothing here registers a route or listens (app.ts does).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from './config/schema.js';
import type { AuditWriter } from './audit/index.js';
import type { Envelope } from './crypto/envelope.js';
import type { KeyMaterial } from './crypto/key-files.js';
import type { ProviderCatalog } from './providers/catalog.js';
import type { UpstreamOAuth } from './providers/upstream-oauth.js';
import type { Stores } from './store/stores.js';
import { KeyCustodian } from './crypto/key-custodian.js';
import { RewrapRuns } from './grants/rewrap-runs.js';
import { createAdminJwtVerifier, type AdminJwtVerifier } from './admin/admin-jwt.js';
import { TokenVerifier } from './identity/token-verifier.js';
import { KillSwitchCache } from './kill-switches/cache.js';
import { KillSwitchControl } from './kill-switches/control.js';
import { GlobalKillWatcher } from './kill-switches/watcher.js';
import { GrantPolicy } from './grants/policy.js';
import { GrantRetirement } from './grants/retire.js';
import { UpstreamAccessTokens, auditRefresh, type UpstreamAccessMetrics } from './grants/upstream-access.js';
import { createRevocationWorker, type RevocationWorker } from './grants/revocation-worker.js';
import { TokenExchange } from './exchange/token-exchange.js';
import { LinkService } from './linking/link-service.js';
import { ConsentService } from './linking/consent-service.js';
import { Approvals, type ApprovalEventSink } from './approvals/approval-service.js';

export interface ServiceDeps {
  stores: Stores;
  keys: KeyMaterial;
  /** Fail-closed, hash-chained audit writer. */
  audit: AuditWriter;
  /** Opens and seals grant secrets with `keys.keyring` (the rewrap job, grant secrets on exchange). */
  envelope: Envelope;
  catalog: ProviderCatalog;
  upstream: UpstreamOAuth;
  /** Where approval events go (the webhook emitter, src/webhooks/, when configured). */
  webhooks?: ApprovalEventSink | undefined;
}

export interface Services {
  issuer: string;
  internalUrl: string;
  custodian: KeyCustodian;
  killSwitchCache: KillSwitchCache;
  killSwitches: KillSwitchControl;
  globalKill: GlobalKillWatcher;
  upstreamAccess: UpstreamAccessTokens;
  exchange: TokenExchange;
  approvals: Approvals;
  retirement: GrantRetirement;
  links: LinkService;
  consents: ConsentService;
  revocations: RevocationWorker;
  rewrap: RewrapRuns;
  adminJwt: AdminJwtVerifier | undefined;
}

/**
 * `logs`: the listener loggers (the revocation worker logs with the pages, kill-switch faults with the internal API);
 * `metrics`: told of upstream token cache lookups and refreshes.
 */
export async function buildServices(
  config: Config,
  deps: ServiceDeps,
  logs: { public: FastifyBaseLogger; internal: FastifyBaseLogger },
  metrics?: UpstreamAccessMetrics,
): Promise<Services> {
  const { stores, keys, audit, envelope, catalog, upstream } = deps;
  const { issuer, internalUrl, audience } = exchangeUrls(config);
  const custodian = new KeyCustodian({ keys, dir: config.keys.dir });
  const logError = (what: string) => (err: unknown) => logs.internal.error({ err: { type: err instanceof Error ? err.name : 'unknown' } }, what);

  // Kill-switch enforcement on the exchange and forward paths (the admin API engages them).
  const killSwitchCache = new KillSwitchCache(stores.killSwitches, {
    events: stores.killSwitchEvents,
    onError: logError('kill-switch subscription failed'),
  });
  // One instance for /exchange and /forward: one in-process single flight per grant.
  const upstreamAccess = new UpstreamAccessTokens(stores, envelope, catalog, upstream, metrics ? { metrics } : {}, auditRefresh(audit));
  const approvals = new Approvals({ store: stores.approvals, audit, events: deps.webhooks, ...config.approvals });
  const exchange = new TokenExchange({
    issuer,
    catalog,
    verifier: await TokenVerifier.create(config.identity, audience),
    killSwitches: killSwitchCache,
    policy: new GrantPolicy(stores.grants, catalog, issuer),
    upstream: upstreamAccess,
    tokens: stores.tokens,
    signingKeys: keys.signingKeys,
    approvals,
  });

  const { baseDelayMs, maxDelayMs, intervalMs } = config.linking.revocationRetry;
  const retirement = new GrantRetirement({
    stores,
    envelope,
    upstream,
    audit,
    retry: { baseDelayMs },
    tombstoneRetentionMs: config.grants.tombstoneRetentionDays * 86_400_000,
  });
  return {
    issuer,
    internalUrl,
    custodian,
    killSwitchCache,
    killSwitches: new KillSwitchControl(stores, custodian, logError('kill-switch announcement failed')),
    globalKill: new GlobalKillWatcher({ cache: killSwitchCache, custodian, onError: logError('global kill-switch check failed') }),
    upstreamAccess,
    exchange,
    approvals,
    retirement,
    links: new LinkService({ stores, envelope, catalog, upstream, audit, retirement, publicUrl: issuer, stateTtlSeconds: config.linking.stateTtlSeconds }),
    consents: new ConsentService({ stores, catalog, audit, retirement }),
    revocations: createRevocationWorker({ stores, envelope, upstream, audit, log: logs.public, intervalMs, baseDelayMs, maxDelayMs }),
    rewrap: new RewrapRuns(stores, envelope, keys.keyring),
    adminJwt: config.admins.jwt ? await createAdminJwtVerifier(config.admins.jwt) : undefined,
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
