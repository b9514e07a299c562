import type { RedisOptions } from 'ioredis';
import { AUDIT_CHAINS_DEFAULT, AUDIT_CHAINS_MAX } from '../audit-store.js';

/** How the stores reach Redis: one server, a Sentinel set or a Cluster (docs/architecture.md#data-model-in-redis). */
export type RedisMode = 'standalone' | 'sentinel' | 'cluster';

/** Connection settings for the Redis-backed stores. */
export interface RedisStoreOptions {
  /** Default `standalone`. */
  mode?: RedisMode;
  /** Standalone: `redis://` or `rediss://` URL, credentials included if any. */
  url?: string;
  /** Sentinel: the sentinels; cluster: startup nodes. Each `redis://host:port` or `rediss://host:port`. */
  nodes?: readonly string[];
  /** Sentinel: the name the sentinels monitor the master under. */
  masterName?: string;
  /** ACL user and password (read from a file by the caller). */
  username?: string;
  password?: string;
  /** Sentinel: the sentinels' own password. */
  sentinelPassword?: string;
  /** PEM CA bundle a `rediss://` server certificate must chain to. */
  tlsCa?: string;
  /** Prefix of every key; default `tv:`. Lets several deployments or tests share one Redis. */
  keyPrefix?: string;
  /** Per-command deadline; default 500, at most 500 so a dead Redis becomes a 503 in well under a second. */
  commandTimeoutMs?: number;
  /** TCP connect deadline per attempt; default 1000. */
  connectTimeoutMs?: number;
  /** Replicas that must acknowledge (`WAIT`) a rotated refresh token and each audit append; default 0 (off). */
  minReplicasAck?: number;
  /** How long that `WAIT` may take; default 250. */
  replicaAckTimeoutMs?: number;
  /** Audit chains (config `audit.chains`); default 16. */
  auditChains?: number;
}

export interface NodeAddress {
  host: string;
  port: number;
}

export type ResolvedTopology =
  | { mode: 'standalone'; url: string }
  | { mode: 'sentinel'; sentinels: NodeAddress[]; masterName: string; tls: boolean }
  | { mode: 'cluster'; nodes: NodeAddress[]; tls: boolean };

export interface ResolvedRedisStoreOptions {
  topology: ResolvedTopology;
  keyPrefix: string;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  minReplicasAck: number;
  replicaAckTimeoutMs: number;
  username?: string;
  password?: string;
  sentinelPassword?: string;
  tlsCa?: string;
  auditChains: number;
}

const MAX_COMMAND_TIMEOUT_MS = 500;
/** Every replica reconnects within this of Redis answering again (it serves within 500 ms). */
const MAX_RECONNECT_DELAY_MS = 100;

/** Applies defaults and rejects settings that would break the fail-fast promise (docs/architecture.md#security-properties: fail closed). */
export function resolveRedisStoreOptions(opts: RedisStoreOptions): ResolvedRedisStoreOptions {
  const commandTimeoutMs = opts.commandTimeoutMs ?? MAX_COMMAND_TIMEOUT_MS;
  const connectTimeoutMs = opts.connectTimeoutMs ?? 1000;
  if (!Number.isInteger(commandTimeoutMs) || commandTimeoutMs <= 0 || commandTimeoutMs > MAX_COMMAND_TIMEOUT_MS) {
    throw new RangeError(`commandTimeoutMs must be an integer in 1..${MAX_COMMAND_TIMEOUT_MS}`);
  }
  if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs <= 0) {
    throw new RangeError('connectTimeoutMs must be a positive integer');
  }
  const keyPrefix = opts.keyPrefix ?? 'tv:';
  // A brace in the prefix would become the Cluster hash tag of every key and defeat per-grant tags.
  if (/[{}]/.test(keyPrefix)) throw new RangeError('keyPrefix must not contain { or }');
  const auditChains = opts.auditChains ?? AUDIT_CHAINS_DEFAULT;
  if (!Number.isInteger(auditChains) || auditChains < 1 || auditChains > AUDIT_CHAINS_MAX)
    throw new RangeError(`auditChains must be an integer in 1..${AUDIT_CHAINS_MAX}`);
  const minReplicasAck = opts.minReplicasAck ?? 0;
  const replicaAckTimeoutMs = opts.replicaAckTimeoutMs ?? 250;
  if (!Number.isInteger(minReplicasAck) || minReplicasAck < 0) throw new RangeError('minReplicasAck must be a non-negative integer');
  if (!Number.isInteger(replicaAckTimeoutMs) || replicaAckTimeoutMs <= 0) throw new RangeError('replicaAckTimeoutMs must be a positive integer');
  const { username, password, sentinelPassword, tlsCa } = opts;
  return {
    topology: resolveTopology(opts),
    keyPrefix,
    commandTimeoutMs,
    connectTimeoutMs,
    minReplicasAck,
    replicaAckTimeoutMs,
    auditChains,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
    ...(tlsCa !== undefined ? { tlsCa } : {}),
  };
}

function resolveTopology(opts: RedisStoreOptions): ResolvedTopology {
  const mode = opts.mode ?? 'standalone';
  if (mode === 'standalone') {
    if (opts.url === undefined) throw new RangeError('url is required in standalone mode');
    return { mode, url: opts.url };
  }
  const nodes = (opts.nodes ?? []).map(parseNode);
  if (nodes.length === 0) throw new RangeError(`nodes are required in ${mode} mode`);
  const tls = nodes.some((n) => n.tls);
  if (nodes.some((n) => n.tls !== tls)) throw new RangeError('nodes mix redis:// and rediss://');
  const addresses = nodes.map(({ host, port }) => ({ host, port }));
  if (mode === 'cluster') return { mode, nodes: addresses, tls };
  if (opts.masterName === undefined) throw new RangeError('masterName is required in sentinel mode');
  return { mode, sentinels: addresses, masterName: opts.masterName, tls };
}

function parseNode(address: string): NodeAddress & { tls: boolean } {
  const url = new URL(address);
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new RangeError('a node must be a redis:// or rediss:// address');
  return { host: url.hostname, port: Number(url.port || 6379), tls: url.protocol === 'rediss:' };
}

/**
 * ioredis settings for failing fast: its defaults queue
 * commands while disconnected and retry them for ≈ 10 s.
 */
export function clientOptions(opts: Pick<ResolvedRedisStoreOptions, 'commandTimeoutMs' | 'connectTimeoutMs'>) {
  return {
    enableOfflineQueue: false,
    // Commands issued in the same tick by concurrent requests leave in one write: on the exchange
    // path a syscall per command cost more than the commands (bench/RESULTS.md).
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    // The deadline callers see is the store budget (src/store/budget.ts: commandTimeoutMs of store
    // silence while the process waits idle, so a busy process does not fail answers merely late).
    // This one, in wall-clock time, only stops a command whose answer never comes while other
    // commands are answered (one stalled Cluster node) from staying queued for ever; it must exceed
    // how late a busy process reads answers (up to ≈ 4 s measured on a saturated 2-vCPU machine).
    commandTimeout: opts.commandTimeoutMs * 10,
    connectTimeout: opts.connectTimeoutMs,
    // No replay after reconnect: a write in flight when the socket dropped may or may not have run,
    // and its caller already got an error, so replaying it later (a second consume,
    // a late refresh commit) would change state behind the caller's back.
    autoResendUnfulfilledCommands: false,
    // Never give up: once Redis is back the same process serves again without a restart.
    retryStrategy: reconnectDelay,
  } satisfies RedisOptions;
}

export function reconnectDelay(attempt: number): number {
  return Math.min(50 * attempt, MAX_RECONNECT_DELAY_MS);
}
