import { readFile } from 'node:fs/promises';
import type { Config } from '../../config/schema.js';
import { readSecretFile, KeyMaterialError } from '../../crypto/key-files.js';
import type { RedisStoreOptions } from './options.js';

type RedisConfig = Config['store']['redis'];

/** What `store.redis` names by file: the ACL password, the sentinels' password, the TLS CA bundle. */
export interface RedisSecrets {
  password?: string;
  sentinelPassword?: string;
  tlsCa?: string;
}

/** Reads the files `store.redis` names; a defect is recorded under its key in `problems` (boot lists them all). */
export async function readRedisSecrets(config: Config, problems: string[]): Promise<RedisSecrets> {
  const redis = config.store.redis;
  if (config.store.kind !== 'redis') return {};
  const secret = async (file: string | undefined, field: string) => {
    if (file === undefined) return undefined;
    try {
      return await readSecretFile(file);
    } catch (err) {
      if (!(err instanceof KeyMaterialError)) throw err;
      problems.push(...err.problems.map((p) => `store.redis.${field}: ${p}`));
      return undefined;
    }
  };
  const password = await secret(redis.passwordFile, 'passwordFile');
  const sentinelPassword = await secret(redis.sentinelPasswordFile, 'sentinelPasswordFile');
  let tlsCa: string | undefined;
  if (redis.tlsCaFile !== undefined) {
    // A CA bundle is public: read as is, without the private-file checks.
    tlsCa = await readFile(redis.tlsCaFile, 'utf8').catch(() => {
      problems.push('store.redis.tlsCaFile: unreadable');
      return undefined;
    });
    if (tlsCa !== undefined && !tlsCa.includes('-----BEGIN CERTIFICATE-----')) problems.push('store.redis.tlsCaFile: no PEM certificate');
  }
  return {
    ...(password !== undefined ? { password } : {}),
    ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
    ...(tlsCa !== undefined ? { tlsCa } : {}),
  };
}

/** The stores' connection options from `store.redis` and its secrets. */
export function redisStoreOptions(redis: RedisConfig, secrets: RedisSecrets): RedisStoreOptions {
  return {
    mode: redis.mode,
    ...(redis.url !== undefined ? { url: redis.url } : {}),
    ...(redis.nodes !== undefined ? { nodes: redis.nodes } : {}),
    ...(redis.masterName !== undefined ? { masterName: redis.masterName } : {}),
    ...(redis.username !== undefined ? { username: redis.username } : {}),
    ...secrets,
    keyPrefix: redis.keyPrefix,
    commandTimeoutMs: redis.commandTimeoutMs,
    connectTimeoutMs: redis.connectTimeoutMs,
    minReplicasAck: redis.minReplicasAck,
    replicaAckTimeoutMs: redis.replicaAckTimeoutMs,
  };
}
