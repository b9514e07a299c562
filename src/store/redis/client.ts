import { Cluster, Redis } from 'ioredis';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import { clientOptions, reconnectDelay } from './options.js';
import type { ResolvedRedisStoreOptions } from './options.js';

/** One server or Sentinel-managed master (Redis), or a Cluster: the stores use either alike. */
export type RedisClient = Redis | Cluster;

/**
 * The command connection of the stores, fail-fast in every mode (options.ts). Sentinel: ioredis
 * asks the sentinels for the master, checks its role on connect, and asks again on every
 * reconnect, so a failover costs one reconnect. Cluster: commands go to the master of their
 * slot (never a replica: a read there could miss a write just made, e.g. a refresh commit).
 */
export function createClient(opts: ResolvedRedisStoreOptions): RedisClient {
  const { topology } = opts;
  if (topology.mode === 'standalone')
    return new Redis(topology.url, { ...clientOptions(opts), ...auth(opts), ...tlsFor(topology.url.startsWith('rediss:'), opts) });
  if (topology.mode === 'sentinel') {
    const tls = tlsFor(topology.tls, opts);
    return new Redis({
      ...clientOptions(opts),
      ...auth(opts),
      ...tls,
      sentinels: topology.sentinels,
      name: topology.masterName,
      role: 'master',
      ...(opts.sentinelPassword !== undefined ? { sentinelPassword: opts.sentinelPassword } : {}),
      ...(topology.tls ? { enableTLSForSentinelMode: true, sentinelTLS: tls.tls } : {}),
      sentinelCommandTimeout: opts.connectTimeoutMs,
      // Learns a failover from the sentinels' +switch-master at once instead of at the next error.
      failoverDetector: true,
    });
  }
  const cluster = new Cluster(topology.nodes, clusterOptions(opts));
  // ioredis opens a node's connection on its first command and, without an offline queue, fails
  // every other command sent to that node while it connects: a burst reaching a new master (at
  // start, after a failover) would be refused. Each node is connected as soon as it is known.
  cluster.on('+node', (node: Redis) => {
    if (node.status === 'wait') node.connect().catch(() => {});
  });
  return cluster;
}

/**
 * Cluster settings: the same fail-fast node connections; a MOVED/ASK or a cluster that is
 * failing over is retried within the command deadline, not queued behind it.
 */
export function clusterOptions(opts: ResolvedRedisStoreOptions) {
  const { enableOfflineQueue, retryStrategy: _, enableAutoPipelining, ...node } = clientOptions(opts);
  const tls = opts.topology.mode === 'cluster' ? tlsFor(opts.topology.tls, opts) : {};
  return {
    enableOfflineQueue,
    enableAutoPipelining,
    // ioredis picks a command's auto-pipeline (its node) by its first argument, which for a script
    // is the key count or the SHA, not a key: a script could join a pipeline bound for another
    // node, and the whole pipeline would fail ("All keys in the pipeline should belong to the same
    // slots allocation group", redis/ioredis#2109). Scripts go out on their own, to their key's node.
    autoPipeliningIgnoredCommands: ['evalsha', 'eval'],
    scaleReads: 'master',
    maxRedirections: 4,
    retryDelayOnFailover: 50,
    retryDelayOnClusterDown: 50,
    retryDelayOnTryAgain: 50,
    slotsRefreshTimeout: opts.connectTimeoutMs,
    clusterRetryStrategy: reconnectDelay,
    // A node whose connection drops leaves the pool and the slot map is fetched again (ioredis's
    // default), so commands for its slots go to its promoted replica once the cluster agrees.
    redisOptions: { ...node, ...auth(opts), ...tls },
  } satisfies ClusterOptions;
}

function auth(opts: ResolvedRedisStoreOptions): Pick<RedisOptions, 'username' | 'password'> {
  return { ...(opts.username !== undefined ? { username: opts.username } : {}), ...(opts.password !== undefined ? { password: opts.password } : {}) };
}

function tlsFor(enabled: boolean, opts: ResolvedRedisStoreOptions): { tls?: NonNullable<RedisOptions['tls']> } {
  if (!enabled) return {};
  return { tls: opts.tlsCa !== undefined ? { ca: opts.tlsCa } : {} };
}
