import type { RedisOptions } from 'ioredis';
import { AUDIT_CHAINS_DEFAULT, AUDIT_CHAINS_MAX } from '../audit-store.js';

/** Connection settings for the Redis-backed stores. */
export interface RedisStoreOptions {
  /** `redis://` or `rediss://` URL, credentials included if any. */
  url: string;
  /** Prefix of every key; default `tv:`. Lets several deployments or tests share one Redis. */
  keyPrefix?: string;
  /** Per-command deadline; default 500, at most 500 so a dead Redis becomes a 503 in well under a second. */
  commandTimeoutMs?: number;
  /** TCP connect deadline per attempt; default 1000. */
  connectTimeoutMs?: number;
  /** Audit chains (config `audit.chains`); default 16. */
  auditChains?: number;
}

export interface ResolvedRedisStoreOptions {
  url: string;
  keyPrefix: string;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  auditChains: number;
}

const MAX_COMMAND_TIMEOUT_MS = 500;
const MAX_RECONNECT_DELAY_MS = 1000;

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
  return { url: opts.url, keyPrefix, commandTimeoutMs, connectTimeoutMs, auditChains };
}

/**
 * ioredis settings for failing fast: its defaults queue
 * commands while disconnected and retry them for ≈ 10 s.
 */
export function clientOptions(opts: ResolvedRedisStoreOptions) {
  return {
    enableOfflineQueue: false,
    // Commands issued in the same tick by concurrent requests leave in one write: on the exchange
    // path a syscall per command cost more than the commands (bench/RESULTS.md).
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    commandTimeout: opts.commandTimeoutMs,
    connectTimeout: opts.connectTimeoutMs,
    // No replay after reconnect: a write in flight when the socket dropped may or may not have run,
    // and its caller already got an error, so replaying it later (a second consume,
    // a late refresh commit) would change state behind the caller's back.
    autoResendUnfulfilledCommands: false,
    // Never give up: once Redis is back the same process serves again without a restart.
    retryStrategy: (attempt: number) => Math.min(50 * attempt, MAX_RECONNECT_DELAY_MS),
  } satisfies RedisOptions;
}
