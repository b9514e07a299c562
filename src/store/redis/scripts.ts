import { createHash } from 'node:crypto';
import { Command } from 'ioredis';
import type { Cluster, Redis } from 'ioredis';
import { AUDIT_SCRIPTS, type AuditScriptCommands } from './audit-scripts.js';
import { LOCK_SCRIPTS, type LockScriptCommands } from './lock-scripts.js';
import { WEBHOOK_SCRIPTS, type WebhookScriptCommands } from './webhook-scripts.js';

type RedisClient = Redis | Cluster;

/**
 * Lua for every check-then-act step: never GET then DEL (docs/architecture.md#data-model-in-redis). Each script touches only
 * keys of one hash tag, so it stays valid on Cluster. Arguments are ids,
 * numbers and envelope ciphertext only: ioredis tracing keeps EVAL arguments,
 * so plaintext secrets must never reach a script.
 */
/**
 * The next kill-switch epoch (KEYS[2]): above the current one and at least the Redis clock in
 * ms. A failover or restart that loses the last change cannot make a later change reuse an
 * epoch a replica already cached with other switches: the new one is a later time.
 */
const NEXT_EPOCH = `local t = redis.call('TIME')
local e = math.max(tonumber(redis.call('GET', KEYS[2]) or '0') + 1, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
redis.call('SET', KEYS[2], string.format('%d', e))
return e`;

const SCRIPTS = {
  /** KEYS: grant. ARGV: field, value, ... → 1 created, 0 exists. */
  tvCreateGrant: {
    numberOfKeys: 1,
    lua: `if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1`,
  },
  /** KEYS: grant. ARGV: expectedVersion, refreshToken, now → new version or nil. */
  tvCommitRefresh: {
    numberOfKeys: 1,
    lua: `local v = tonumber(redis.call('HGET', KEYS[1], 'version'))
if v == nil or v ~= tonumber(ARGV[1]) then return false end
redis.call('HSET', KEYS[1], 'refreshToken', ARGV[2], 'version', v + 1, 'updatedAt', ARGV[3])
return v + 1`,
  },
  /** KEYS: grant. ARGV: expected ciphertext, rewrapped ciphertext → 1 swapped, 0 changed or gone. Version untouched. */
  tvRewrapRefresh: {
    numberOfKeys: 1,
    lua: `if redis.call('HGET', KEYS[1], 'refreshToken') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'refreshToken', ARGV[2])
return 1`,
  },
  /** KEYS: grant. ARGV: status, expectedVersion or '', now → new version or nil. */
  tvSetStatus: {
    numberOfKeys: 1,
    lua: `local v = tonumber(redis.call('HGET', KEYS[1], 'version'))
if v == nil then return false end
if ARGV[2] ~= '' and v ~= tonumber(ARGV[2]) then return false end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'version', v + 1, 'updatedAt', ARGV[3])
return v + 1`,
  },
  /** KEYS: grant. ARGV: consent field, operations JSON or '' to remove, now, the agent's consent-epoch field → 1 or 0 when no grant. */
  tvSetConsent: {
    numberOfKeys: 1,
    lua: `if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('HINCRBY', KEYS[1], ARGV[4], 1)
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[3])
return 1`,
  },
  /** KEYS: grant, tombstone. ARGV: now, tombstone JSON, TTL ms → new version, or nil (nothing written) when no grant. */
  tvMarkRevoked: {
    numberOfKeys: 2,
    lua: `local v = tonumber(redis.call('HGET', KEYS[1], 'version'))
if v == nil then return false end
redis.call('HSET', KEYS[1], 'status', 'revoked', 'version', v + 1, 'updatedAt', ARGV[1])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return v + 1`,
  },
  /** KEYS: grant, access token → userId, or '' when there was no grant. */
  tvDeleteGrant: {
    numberOfKeys: 2,
    lua: `local user = redis.call('HGET', KEYS[1], 'userId') or ''
redis.call('DEL', KEYS[1], KEYS[2])
return user`,
  },
  /**
   * KEYS: token. ARGV: proof ('' = the caller checked the signature) → {record, uses before
   * spending}, nil (unknown or spent) or 0 (a proof was given and the record holds another or
   * none: nothing spent). The value is `<uses left>:[<proof>:]<record JSON>` (RedisTokenStore);
   * the last use deletes it, an earlier one rewrites the count and keeps the TTL.
   */
  tvConsume: {
    numberOfKeys: 1,
    lua: `local key, proof = KEYS[1], ARGV[1]
local v = redis.call('GET', key)
if not v then return false end
local sep = string.find(v, ':', 1, true)
if not sep then return false end
local u = tonumber(string.sub(v, 1, sep - 1))
if u == nil or u <= 0 then return false end
local record = string.sub(v, sep + 1)
if proof ~= '' then
  local stop = string.find(record, ':', 1, true)
  if string.sub(record, 1, 1) == '{' or not stop or string.sub(record, 1, stop - 1) ~= proof then return 0 end
end
if u == 1 then redis.call('DEL', key) else redis.call('SET', key, (u - 1) .. ':' .. record, 'KEEPTTL') end
return {record, u}`,
  },
  /** KEYS: switches, epoch. ARGV: field, switch JSON → new epoch. */
  tvEngageSwitch: {
    numberOfKeys: 2,
    lua: `redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
${NEXT_EPOCH}`,
  },
  /** KEYS: switches, epoch. ARGV: field → epoch, bumped only if the switch was engaged. */
  tvReleaseSwitch: {
    numberOfKeys: 2,
    lua: `if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then
${NEXT_EPOCH}
end
return tonumber(redis.call('GET', KEYS[2]) or '0')`,
  },
  /**
   * KEYS: due, items. ARGV: now, limit, lease-until → item JSON, then meta JSON or '', per item.
   * Leasing (moving the due time) happens in the same step as reading.
   */
  tvClaimRevocations: {
    numberOfKeys: 3,
    lua: `local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  local json = redis.call('HGET', KEYS[2], id)
  if json then
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    table.insert(out, json)
    table.insert(out, redis.call('HGET', KEYS[3], id) or '')
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out`,
  },
  /** KEYS: due, items, meta. ARGV: id, next attempt, meta JSON → 1, or 0 when the item is gone. */
  tvRescheduleRevocation: {
    numberOfKeys: 3,
    lua: `if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1`,
  },
  ...AUDIT_SCRIPTS,
  ...WEBHOOK_SCRIPTS,
  ...LOCK_SCRIPTS,
  /**
   * KEYS: approval. ARGV: binding JSON, now → {outcome} or {'approved', record JSON}. A poll
   * from anyone but the bound gateway, agent and user is `unknown` and changes nothing; a
   * poll sooner than the interval after the last one is `slow_down` (OpenID CIBA Core 1.0
   * §11); the approved answer consumes the request in the same step.
   */
  tvApprovalPoll: {
    numberOfKeys: 1,
    lua: `local f = redis.call('HMGET', KEYS[1], 'b', 's', 'exp', 'iv', 'lp', 'r')
if not f[1] or f[1] ~= ARGV[1] then return {'unknown'} end
local now = tonumber(ARGV[2])
if f[2] == 'consumed' then return {'consumed'} end
if (f[2] == 'pending' or f[2] == 'approved') and now >= tonumber(f[3]) then return {'expired'} end
redis.call('HSET', KEYS[1], 'lp', ARGV[2])
if f[5] and now - tonumber(f[5]) < tonumber(f[4]) then return {'slow_down'} end
if f[2] ~= 'approved' then return {f[2]} end
redis.call('HSET', KEYS[1], 's', 'consumed')
return {'approved', f[6]}`,
  },
  /**
   * KEYS: approval. ARGV: decision, role, user id ('' for an admin), decided by, now →
   * 'decided', 'unknown' (absent, or not this decider's), 'already_decided' or 'expired'.
   */
  tvApprovalDecide: {
    numberOfKeys: 1,
    lua: `local f = redis.call('HMGET', KEYS[1], 'ap', 'u', 's', 'exp')
if not f[1] or f[1] ~= ARGV[2] or (ARGV[2] == 'user' and f[2] ~= ARGV[3]) then return 'unknown' end
if f[3] ~= 'pending' then return 'already_decided' end
if tonumber(ARGV[5]) >= tonumber(f[4]) then return 'expired' end
redis.call('HSET', KEYS[1], 's', ARGV[1], 'by', ARGV[4], 'at', ARGV[5])
return 'decided'`,
  },
} as const;

type Arg = string | number;

/** The scripts as typed client methods (EVALSHA, EVAL when the server does not have the script yet: defineScripts). */
export interface ScriptCommands extends AuditScriptCommands, WebhookScriptCommands, LockScriptCommands {
  tvCreateGrant(key: string, ...fieldValues: string[]): Promise<number>;
  tvCommitRefresh(key: string, expectedVersion: number, refreshToken: string, now: number): Promise<number | null>;
  tvRewrapRefresh(key: string, expected: string, rewrapped: string): Promise<number>;
  tvSetStatus(key: string, status: string, expectedVersion: Arg, now: number): Promise<number | null>;
  tvSetConsent(key: string, field: string, operations: string, now: number, epochField: string): Promise<number>;
  tvDeleteGrant(grant: string, accessToken: string): Promise<string>;
  tvMarkRevoked(grant: string, tombstone: string, now: number, json: string, ttlMs: number): Promise<number | null>;
  tvConsume(key: string, proof: string): Promise<[string, number] | 0 | null>;
  tvEngageSwitch(switches: string, epoch: string, field: string, json: string): Promise<number>;
  tvReleaseSwitch(switches: string, epoch: string, field: string): Promise<number>;
  tvClaimRevocations(due: string, items: string, meta: string, now: number, limit: number, leaseUntil: number): Promise<string[]>;
  tvRescheduleRevocation(due: string, items: string, metaKey: string, id: string, nextAttemptAt: number, metaJson: string): Promise<number>;
  tvApprovalPoll(approval: string, binding: string, now: number): Promise<[string, string?]>;
  tvApprovalDecide(approval: string, decision: string, role: string, userId: string, decidedBy: string, now: number): Promise<string>;
}

export type ScriptedRedis = RedisClient & ScriptCommands;

/**
 * Puts every script on the client as a method that sends `EVALSHA`, and `EVAL` (which also loads
 * it) when the server answers NOSCRIPT: after a restart, a failover, or on a Cluster node first
 * reached.
 *
 * Not ioredis's `defineCommand`, which does the same, because a command defined that way is copied
 * onto every pipeline ioredis creates, and with auto-pipelining that is one pipeline per event-loop
 * tick that sends anything: with the vault's ≈ 30 scripts, 13–21 µs of CPU per tick, on every
 * exchange, forward and audit append (bench/RESULTS.md).
 */
export function defineScripts(redis: RedisClient): ScriptedRedis {
  const scripted = redis as ScriptedRedis & Record<string, unknown>;
  for (const [name, def] of Object.entries(SCRIPTS)) {
    const sha = createHash('sha1').update(def.lua).digest('hex');
    // A script without numberOfKeys takes its key count as the first argument of each call.
    const keyCount = 'numberOfKeys' in def ? def.numberOfKeys : undefined;
    scripted[name] = (...args: Arg[]) => {
      const call = keyCount === undefined ? args : [keyCount, ...args];
      return send(redis, 'evalsha', [sha, ...call]).catch((err: unknown) => {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return send(redis, 'eval', [def.lua, ...call]);
      });
    };
  }
  return scripted;
}

/**
 * Arguments past which a call is written on its own rather than joining the tick's auto-pipeline.
 * ioredis's auto-pipeline costs about 0.25 µs of CPU per argument on top of the command itself
 * (a group-committed audit append of 16 records has about 90: ≈ 20 µs of 65), while what it saves,
 * one write shared with the tick's other commands, is the same for any command.
 */
const OWN_WRITE_ARGS = 32;

function send(redis: RedisClient, command: 'evalsha' | 'eval', args: Arg[]): Promise<unknown> {
  if (args.length > OWN_WRITE_ARGS) return redis.sendCommand(new Command(command, args, { replyEncoding: 'utf8' })) as Promise<unknown>;
  return (redis[command] as (...rest: Arg[]) => Promise<unknown>)(...args);
}
