import { z } from 'zod';
import { filePath } from './fields.js';

/**
 * How the vault reaches Redis (`store.redis`): one server (`url`), a Sentinel set (`nodes` are the
 * sentinels, `masterName` the monitored master) or a Cluster (`nodes` are startup nodes). A node
 * is `redis://host:port` or `rediss://host:port` (TLS); credentials never sit in a node address:
 * the ACL user is `username`, the password comes from `passwordFile`.
 */
const nodeAddress = z
  .string()
  .regex(/^rediss?:\/\/[^/@:\s]+:\d{1,5}$/, 'must be redis://host:port or rediss://host:port (no credentials: use username and passwordFile)');

export const redisTopologyFields = {
  mode: z.enum(['standalone', 'sentinel', 'cluster']).default('standalone'),
  nodes: z.array(nodeAddress).min(1).max(64).optional(),
  masterName: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,128}$/)
    .optional(),
  /** ACL user (Redis 6+ `AUTH <username> <password>`). */
  username: z.string().min(1).max(256).optional(),
  passwordFile: filePath.optional(),
  /** Password of the sentinels themselves (their `requirepass`), when they have one. */
  sentinelPasswordFile: filePath.optional(),
  /** PEM bundle of the CA(s) a `rediss://` server certificate must chain to; default: Node's CAs. */
  tlsCaFile: filePath.optional(),
};

interface TopologyFields {
  mode: 'standalone' | 'sentinel' | 'cluster';
  url?: string | undefined;
  nodes?: string[] | undefined;
  masterName?: string | undefined;
  sentinelPasswordFile?: string | undefined;
}

/** The combinations each mode needs; `url` (standalone) is required by the loader's own check. */
export function redisTopologyIssues(redis: TopologyFields, ctx: z.RefinementCtx): void {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (redis.mode === 'standalone') {
    if (redis.nodes !== undefined) issue('nodes', 'only for mode sentinel or cluster (standalone uses url)');
    if (redis.masterName !== undefined) issue('masterName', 'only for mode sentinel');
    if (redis.sentinelPasswordFile !== undefined) issue('sentinelPasswordFile', 'only for mode sentinel');
    return;
  }
  if (redis.url !== undefined) issue('url', `not used in mode ${redis.mode}: list the ${redis.mode === 'sentinel' ? 'sentinels' : 'startup nodes'} in nodes`);
  if (redis.nodes === undefined) issue('nodes', `required in mode ${redis.mode}`);
  else if (new Set(redis.nodes.map((n) => n.startsWith('rediss:'))).size > 1) issue('nodes', 'mixes redis:// and rediss://');
  if (redis.mode === 'sentinel' && redis.masterName === undefined) issue('masterName', 'required in mode sentinel');
  if (redis.mode === 'cluster') {
    if (redis.masterName !== undefined) issue('masterName', 'only for mode sentinel');
    if (redis.sentinelPasswordFile !== undefined) issue('sentinelPasswordFile', 'only for mode sentinel');
  }
}
