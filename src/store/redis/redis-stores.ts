import { Cluster } from 'ioredis';
import type { StoreObserver, Stores } from '../stores.js';
import { RedisAuditStore } from './audit-store.js';
import { clusterClientState, guardStore } from './errors.js';
import { RedisGrantStore } from './grant-store.js';
import { RedisKeys } from './keys.js';
import { RedisKillSwitchStore } from './kill-switch-store.js';
import { RedisKillSwitchEvents, subscriberName } from './kill-switch-events.js';
import { RedisAdminJobStore } from './admin-job-store.js';
import { RedisLockStore } from './lock-store.js';
import { ReplicaWaiters } from './replicas.js';
import { resolveRedisStoreOptions } from './options.js';
import type { RedisStoreOptions, ResolvedRedisStoreOptions } from './options.js';
import { clusterOptions, createClient } from './client.js';
import type { RedisClient } from './client.js';
import { defineScripts } from './scripts.js';
import { RedisTokenStore } from './token-store.js';
import { RedisOneShotStore, RedisSessionStore } from './session-store.js';
import { RedisRevocationQueue } from './revocation-queue.js';
import { RedisWebhookQueue } from './webhook-queue.js';
import { RedisApprovalStore } from './approval-store.js';
import { StoreLiveness } from '../liveness.js';
import { connectFailure } from './connect-failure.js';

/** How long close() lets QUIT drain before dropping the socket. */
const QUIT_GRACE_MS = 250;
/** How soon a connection that ioredis ended by itself is started again. */
const RESTART_AFTER_END_MS = 50;

/**
 * Stores on one ioredis client (one connection, or one per Cluster master). Returns at once; the client connects in
 * the background and commands fail with StoreUnavailableError until it is
 * ready (there is no offline queue), so use connectRedisStores at boot.
 */
export function createRedisStores(opts: RedisStoreOptions): Stores {
  return openRedisStores(opts).stores;
}

function openRedisStores(opts: RedisStoreOptions): { stores: Stores; lastError: () => unknown } {
  const resolved = resolveRedisStoreOptions(opts);
  const redis = defineScripts(createClient(resolved));
  // Failures reach callers as rejected commands; without a listener ioredis would print every
  // reconnect error to stderr. The last one tells why a start-up could not connect.
  let lastError: unknown;
  const remember = (err: unknown) => (lastError = err);
  redis.on('error', remember);
  if (redis instanceof Cluster) redis.on('node error', remember);
  let closing = false;
  // ioredis ends a Sentinel connection for good (status `end`, no more reconnects) when a failover
  // notice (+switch-master) lands while it is still asking the sentinels for the master: its
  // SentinelConnector then rejects with "Connection is closed". Seen here as a vault that never
  // served again after a failover (test/integration/cluster/rotation-failover.test.ts). Until
  // close(), an ended connection is started again.
  if (!(redis instanceof Cluster))
    redis.on('end', () => {
      if (closing) return;
      setTimeout(() => {
        if (!closing && redis.status === 'end') redis.connect().catch(() => {});
      }, RESTART_AFTER_END_MS).unref();
    });
  const keys = new RedisKeys(resolved.keyPrefix);
  const replicas = new ReplicaWaiters(redis, { replicas: resolved.minReplicasAck, timeoutMs: resolved.replicaAckTimeoutMs });
  // Every store method fails as StoreUnavailableError (or passes StoreConflictError through), and
  // is timed for the observer once one is set: see errors.ts.
  let observer: StoreObserver | undefined;
  const watch = (name: string) => ({ name, observer: () => observer });
  const state = redis instanceof Cluster ? clusterClientState(redis) : redis;
  // Every answer of this client counts: a deadline fails a call only while Redis answers nothing (budget.ts).
  const liveness = new StoreLiveness();
  const guard = <T extends object>(store: T, name?: string): T =>
    guardStore(store, state, name === undefined ? undefined : watch(name), resolved.commandTimeoutMs, liveness);
  const killSwitchEvents = guard(new RedisKillSwitchEvents(redis, keys.killEvents(), () => openSubscriber(redis, resolved), redis instanceof Cluster));
  const stores = guard({
    grants: guard(new RedisGrantStore(redis, keys, replicas), 'grants'),
    tokens: guard(new RedisTokenStore(redis, keys), 'tokens'),
    locks: guard(new RedisLockStore(redis, keys), 'locks'),
    killSwitches: guard(new RedisKillSwitchStore(redis, keys), 'killSwitches'),
    killSwitchEvents,
    adminJobs: guard(new RedisAdminJobStore(redis, keys), 'adminJobs'),
    audit: guard(new RedisAuditStore(redis, keys, resolved.auditChains, replicas), 'audit'),
    sessions: guard(new RedisSessionStore(redis, keys), 'sessions'),
    oneShot: guard(new RedisOneShotStore(redis, keys), 'oneShot'),
    revocations: guard(new RedisRevocationQueue(redis, keys), 'revocations'),
    webhooks: guard(new RedisWebhookQueue(redis, keys), 'webhooks'),
    approvals: guard(new RedisApprovalStore(redis, keys), 'approvals'),
    observe(next: StoreObserver | undefined) {
      observer = next;
    },
    async ping() {
      await redis.ping();
    },
    async durabilityProblems() {
      // Every master of a Cluster holds a share of the grants, so each must be durable.
      const masters = redis instanceof Cluster ? redis.nodes('master') : [redis];
      return [...new Set((await Promise.all(masters.map(durabilityProblemsOf))).flat())];
    },
    async close() {
      closing = true;
      killSwitchEvents.close();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, QUIT_GRACE_MS)));
      await Promise.race([redis.quit().catch(() => {}), grace]);
      clearTimeout(timer);
      redis.disconnect();
    },
  });
  return { stores, lastError: () => lastError };
}

/**
 * createRedisStores, resolved once the first PING succeeds; rejects with StoreConnectError (and
 * closes the client) if that takes longer than `waitMs` (default: the connect timeout), or at once
 * when Redis refused the credentials or its certificate was refused: waiting does not mend a
 * configuration error.
 */
export async function connectRedisStores(opts: RedisStoreOptions, waitMs?: number): Promise<Stores> {
  const { stores, lastError } = openRedisStores(opts);
  const deadline = performance.now() + (waitMs ?? resolveRedisStoreOptions(opts).connectTimeoutMs);
  for (;;) {
    try {
      await stores.ping();
      return stores;
    } catch {
      const failure = connectFailure(lastError());
      if (failure.failure !== 'unreachable' || performance.now() >= deadline) {
        await stores.close();
        throw failure;
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/**
 * The subscriber connection: unlike commands, a subscription should come back by itself after a
 * reconnect or a failover. The name tells operators (and tests) in CLIENT LIST which replica's
 * subscriber a connection is. On Cluster, a client of its own with sharded subscribers (one
 * connection to the master of each subscribed channel's slot).
 */
function openSubscriber(redis: RedisClient, opts: ResolvedRedisStoreOptions): RedisClient {
  if (!(redis instanceof Cluster)) return redis.duplicate({ enableOfflineQueue: true, autoResubscribe: true, connectionName: subscriberName() });
  const base = clusterOptions(opts);
  return new Cluster(startupNodes(opts), {
    ...base,
    enableOfflineQueue: true,
    shardedSubscribers: true,
    redisOptions: { ...base.redisOptions, autoResubscribe: true, connectionName: subscriberName() },
  });
}

function startupNodes(opts: ResolvedRedisStoreOptions) {
  return opts.topology.mode === 'cluster' ? opts.topology.nodes : [];
}

async function durabilityProblemsOf(redis: Pick<RedisClient, 'info'>): Promise<string[]> {
  const [persistence, memory] = await Promise.all([redis.info('persistence'), redis.info('memory')]);
  const field = (text: string, name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(text)?.[1]?.trim();
  const problems: string[] = [];
  if (field(persistence, 'aof_enabled') !== '1') problems.push('redis: appendonly is off (grants would not survive a restart)');
  const policy = field(memory, 'maxmemory_policy');
  if (policy !== 'noeviction') problems.push(`redis: maxmemory-policy is ${policy ?? 'unknown'}, must be noeviction (grants must never be evicted)`);
  return problems;
}
