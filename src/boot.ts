/**
 * Turns a validated config into the runtime dependencies: TLS material, key
 * material and stores. Every problem with files or keys is collected into one
 * error before anything listens, so the vault never half-starts.
 */
import { pino, type DestinationStream } from 'pino';
import type { Config } from './config/schema.js';
import { loadKeyMaterial, readSecretFile, KeyMaterialError, type KeyMaterial } from './crypto/key-files.js';
import { createEnvelope, type Envelope } from './crypto/envelope.js';
import { ProviderCatalog } from './providers/catalog.js';
import { UpstreamOAuth } from './providers/upstream-oauth.js';
import { loadTlsMaterial, TlsMaterialError, type TlsMaterial } from './identity/tls-material.js';
import { createMemoryStores } from './store/memory/index.js';
import { connectRedisStores, createRedisStores, StoreConnectError } from './store/redis/index.js';
import { readRedisSecrets, redisStoreOptions, type RedisSecrets } from './store/redis/config.js';
import type { Stores } from './store/stores.js';
import { FileRotationSpool, type RotationSpool } from './store/rotation-spool.js';
import { join } from 'node:path';
import { createAuditWriter, createCheckpointer, fileCheckpointSink, InvalidCheckpointError, readCheckpointFile } from './audit/index.js';
import type { AuditCheckpoint, AuditWriterMetrics, Checkpointer, FlushableAuditWriter } from './audit/index.js';
import { loadWebhookEndpoints, type WebhookEndpoint } from './webhooks/endpoints.js';
import {
  ArchiveOpenError,
  createArchiver,
  openArchive,
  auditStoreSource,
  tieredAuditStore,
  type Archiver,
  type PgAuditArchive,
} from './audit/archive/index.js';
import { readFile } from 'node:fs/promises';

export class StartupError extends Error {
  override name = 'StartupError';
  readonly code = 'TV_STARTUP_FAILED';
  constructor(readonly problems: string[]) {
    super(`cannot start:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export interface Runtime {
  tls: TlsMaterial;
  keys: KeyMaterial;
  envelope: Envelope;
  stores: Stores;
  catalog: ProviderCatalog;
  upstream: UpstreamOAuth;
  /** The hash-chained, fail-closed audit writer (one per process); shutdown flushes it. */
  audit: FlushableAuditWriter;
  /** Signs the chain head into `audit.checkpointFile` (outside Redis) as the chain grows. */
  checkpointer: Checkpointer;
  /** Client secret of the consent pages at the organisation's IdP, when it names one. */
  loginClientSecret?: string;
  /** Where the audit writer reports appends: set by the app that uses it (its metrics). */
  auditMetrics: { current?: AuditWriterMetrics | undefined };
  /** Configured webhook endpoints with their signing keys (config `webhooks.endpoints`). */
  webhookEndpoints: WebhookEndpoint[];
  /** Rotated refresh tokens waiting for the store, on local disk (`store.spoolDir`). */
  spool: RotationSpool;
  /** The PostgreSQL audit archive (`audit.archive.postgres`): its archiver runs from listen() to close. */
  archive?: { archiver: Archiver; close(): Promise<void> };
}

interface ArchiveSecrets {
  connectionString: string;
  migrationConnectionString: string | undefined;
  ca: string | undefined;
}

/** The archive's connection strings and CA, or undefined with its problems recorded. */
async function loadArchiveSecrets(config: Config, problems: string[]): Promise<ArchiveSecrets | undefined> {
  const pg = config.audit.archive.postgres;
  if (pg === undefined) return undefined;
  if (config.store.kind === 'memory') problems.push('audit.archive.postgres: needs store.kind redis (the archive trims Redis)');
  const connectionString = await readSecret(pg.connectionFile, 'audit.archive.postgres.connectionFile', problems);
  const migration = pg.migrationConnectionFile;
  const migrationConnectionString = migration ? await readSecret(migration, 'audit.archive.postgres.migrationConnectionFile', problems) : undefined;
  let ca: string | undefined;
  if (pg.ssl) ca = await readFile(pg.ssl.caFile, 'utf8').catch(() => void problems.push(`audit.archive.postgres.ssl.caFile: ${pg.ssl?.caFile}: unreadable`));
  return connectionString === undefined ? undefined : { connectionString, migrationConnectionString, ca };
}

/** Where the newest audit checkpoint is kept: configured, else next to the keys. */
export function checkpointPath(config: Config): string {
  return config.audit.checkpointFile ?? join(config.keys.dir, 'audit-checkpoint.json');
}

/** Where rotated refresh tokens wait for Redis: configured, else next to the keys. */
export function spoolPath(config: Config): string {
  return config.store.spoolDir ?? join(config.keys.dir, 'rotation-spool');
}

/** A secret file's content, or undefined with its problems recorded under `field`. */
async function readSecret(file: string, field: string, problems: string[]): Promise<string | undefined> {
  try {
    return await readSecretFile(file);
  } catch (err) {
    if (!(err instanceof KeyMaterialError)) throw err;
    problems.push(...err.problems.map((p) => `${field}: ${p}`));
    return undefined;
  }
}

/** Client secrets of every provider that names a secret file, by provider id. */
async function loadProviderSecrets(config: Config, problems: string[]): Promise<Map<string, string>> {
  const secrets = new Map<string, string>();
  for (const [id, provider] of Object.entries(config.providers)) {
    if (!provider.clientSecretFile) continue;
    const secret = await readSecret(provider.clientSecretFile, `providers.${id}.clientSecretFile`, problems);
    if (secret !== undefined) secrets.set(id, secret);
  }
  return secrets;
}

export interface RuntimeOptions {
  /** Where the audit mirror's JSON lines go (tests capture them); default stdout. */
  logStream?: DestinationStream;
}

export async function prepareRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  const problems: string[] = [];
  let tls: TlsMaterial | undefined;
  let keys: KeyMaterial | undefined;
  try {
    tls = loadTlsMaterial(config);
  } catch (err) {
    if (!(err instanceof TlsMaterialError)) throw err;
    problems.push(...err.problems);
  }
  try {
    keys = await loadKeyMaterial(config.keys.dir);
  } catch (err) {
    if (!(err instanceof KeyMaterialError)) throw err;
    problems.push(...err.problems);
  }
  const secrets = await loadProviderSecrets(config, problems);
  let checkpoints: AuditCheckpoint[] | null = null;
  if (keys) {
    try {
      checkpoints = await readCheckpointFile(checkpointPath(config), keys.auditHmacKey);
    } catch (err) {
      problems.push(`audit.checkpointFile: ${err instanceof InvalidCheckpointError ? err.message : 'unreadable'}`);
    }
  }
  const archiveSecrets = await loadArchiveSecrets(config, problems);
  const loginFile = config.identity.login?.clientSecretFile;
  const loginClientSecret = loginFile ? await readSecret(loginFile, 'identity.login.clientSecretFile', problems) : undefined;
  const webhookEndpoints = await loadWebhookEndpoints(config.webhooks, problems);
  const redisSecrets = await readRedisSecrets(config, problems);
  if (!tls || !keys || problems.length > 0) throw new StartupError(problems);
  const catalog = new ProviderCatalog(config.providers, config.agents);
  const envelope = await createEnvelope(keys.keyring);
  const redisStores = await createStores(config, redisSecrets);
  const archiveLog = pino({ level: config.log.level, base: { component: 'audit-archive' } }, options.logStream ?? pino.destination(1));
  let archive: PgAuditArchive | undefined;
  if (archiveSecrets !== undefined) {
    try {
      archive = await openArchive({
        ...archiveSecrets,
        poolSize: config.audit.archive.postgres?.poolSize ?? 4,
        onIdleError: (err) => archiveLog.warn({ err: { type: err.name } }, 'audit archive connection lost'),
      });
    } catch (err) {
      await redisStores.close();
      if (err instanceof ArchiveOpenError) throw new StartupError([`audit.archive.postgres: ${err.message}`]);
      throw err;
    }
  } else if (config.store.kind === 'redis') {
    archiveLog.warn('audit.archive.postgres is not set: Redis holds the only copy of the audit trail, and nothing is trimmed from it');
  }
  // Reads span both tiers (queries, export, verify, history); writes go to Redis alone.
  const stores = archive === undefined ? redisStores : { ...redisStores, audit: tieredAuditStore(redisStores.audit, archive) };
  const checkpointer = createCheckpointer({
    store: stores.audit,
    hmacKey: keys.auditHmacKey,
    sink: fileCheckpointSink(checkpointPath(config), keys.auditHmacKey),
    load: () => readCheckpointFile(checkpointPath(config), keys.auditHmacKey),
    ...(checkpoints !== null && { initial: checkpoints }),
    onError: (err) => process.stderr.write(`token-vault: audit checkpoint failed (${err instanceof Error ? err.name : 'unknown'})\n`),
  });
  // Every durable audit record is also mirrored as one JSON line to the log, a copy outside Redis (docs/architecture.md#audit-trail).
  const auditLog = pino({ level: config.log.level, base: { component: 'audit' } }, options.logStream ?? pino.destination(1));
  const auditMetrics: Runtime['auditMetrics'] = {};
  const audit = createAuditWriter({
    store: stores.audit,
    metrics: () => auditMetrics.current,
    hmacKey: keys.auditHmacKey,
    log: (record) => auditLog.info({ audit: record }, 'audit record'),
    onCommit: (chain, head, n) => checkpointer.observe(chain, head, n),
  });
  const archiveConfig = config.audit.archive.postgres;
  const archiver =
    archive === undefined || archiveConfig === undefined
      ? undefined
      : createArchiver({
          source: auditStoreSource(redisStores.audit),
          archive,
          locks: redisStores.locks,
          retentionMs: config.audit.retention.windowSeconds * 1000,
          lagWarnSeconds: archiveConfig.lagWarnSeconds,
          intervalMs: archiveConfig.intervalMs,
          batchSize: archiveConfig.batchSize,
          checkpoint: () => checkpointer.newest(),
          log: { warn: (obj, msg) => archiveLog.warn(obj, msg), error: (obj, msg) => archiveLog.error(obj, msg) },
        });
  return {
    tls,
    keys,
    envelope,
    stores,
    catalog,
    upstream: new UpstreamOAuth(catalog, secrets),
    audit,
    checkpointer,
    auditMetrics,
    webhookEndpoints,
    spool: new FileRotationSpool(spoolPath(config)),
    ...(archiver !== undefined && archive !== undefined && { archive: { archiver, close: () => archive.pool.end() } }),
    ...(loginClientSecret !== undefined ? { loginClientSecret } : {}),
  };
}

/** Why Redis could not be used at start, naming the settings to check and a code, never a value. */
function connectProblem(err: unknown, address: 'url' | 'nodes'): string {
  const reason = err instanceof StoreConnectError && err.reason !== undefined ? ` (${err.reason})` : '';
  if (err instanceof StoreConnectError && err.failure === 'credentials')
    return `store.redis.username, store.redis.passwordFile: Redis refused the credentials${reason}`;
  if (err instanceof StoreConnectError && err.failure === 'certificate')
    return `store.redis.tlsCaFile: the Redis server's TLS certificate was not accepted${reason}`;
  return `store.redis.${address}: Redis did not answer within 5 s${reason}`;
}

/**
 * Production waits for Redis and refuses a Redis that would lose grants; dev
 * starts at once (readiness reports the store until it answers).
 */
async function createStores(config: Config, secrets: RedisSecrets): Promise<Stores> {
  const { kind, redis } = config.store;
  if (kind === 'memory') return createMemoryStores(config.audit.chains);
  if (!redis.url && redis.mode === 'standalone') throw new StartupError(['store.redis.url: required']);
  const options = { ...redisStoreOptions(redis, secrets), auditChains: config.audit.chains };
  if (config.mode !== 'production') return createRedisStores(options);
  let stores: Stores;
  try {
    stores = await connectRedisStores(options, 5_000);
  } catch (err) {
    throw new StartupError([connectProblem(err, redis.mode === 'standalone' ? 'url' : 'nodes')]);
  }
  const problems = await stores.durabilityProblems();
  // A grant's records must stay in one chain: another count would route them elsewhere.
  const recorded = await stores.audit.claimChainCount();
  if (recorded !== config.audit.chains) problems.push(`audit.chains: the audit trail in Redis was written with ${recorded} chains, not ${config.audit.chains}`);
  if (problems.length > 0) {
    await stores.close();
    throw new StartupError(problems);
  }
  return stores;
}
