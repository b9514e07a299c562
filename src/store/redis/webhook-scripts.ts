/**
 * Lua of the webhook delivery queue (store/redis/webhook-queue.ts), registered with the others by
 * scripts.ts. Every key is under the `{wh}` hash tag; arguments are ids, numbers and the
 * delivery JSON, which holds ids only.
 */
export const WEBHOOK_SCRIPTS = {
  /**
   * KEYS: items, status, attempts, the endpoint's due, by:pending, by:all. ARGV: id, delivery JSON,
   * now, listing member → 1 queued, 0 the id exists (idempotent enqueue).
   */
  tvWebhookEnqueue: {
    numberOfKeys: 6,
    lua: `if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], 'pending')
redis.call('HSET', KEYS[3], ARGV[1], 0)
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[5], 0, ARGV[4])
redis.call('ZADD', KEYS[6], 0, ARGV[4])
return 1`,
  },
  /**
   * KEYS: the endpoint's due, items, status, attempts, lease, meta. ARGV: now, limit, lease-until,
   * lease → delivery JSON, attempts, meta JSON or '' per claimed delivery. Leasing, counting the
   * attempt and reading are one step.
   */
  tvWebhookClaim: {
    numberOfKeys: 6,
    lua: `local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  local json = redis.call('HGET', KEYS[2], id)
  if json and redis.call('HGET', KEYS[3], id) == 'pending' then
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    redis.call('HSET', KEYS[5], id, ARGV[4])
    table.insert(out, json)
    table.insert(out, tostring(redis.call('HINCRBY', KEYS[4], id, 1)))
    table.insert(out, redis.call('HGET', KEYS[6], id) or '')
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out`,
  },
  /**
   * KEYS: the endpoint's due, status, lease, meta, by:pending, by:delivered, by:dead, items,
   * attempts, by:all. ARGV: id, lease, new status, next attempt ('' unless pending), meta JSON,
   * listing member, how many finished deliveries of that status to keep → 1, or 0 when the lease
   * no longer holds. A finished delivery leaves the due set; the oldest beyond the cap are dropped.
   */
  tvWebhookFinish: {
    numberOfKeys: 10,
    lua: `if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[5])
if ARGV[3] == 'pending' then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
  return 1
end
local index = KEYS[7]
if ARGV[3] == 'delivered' then index = KEYS[6] end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZREM', KEYS[5], ARGV[6])
redis.call('ZADD', index, 0, ARGV[6])
local excess = redis.call('ZCARD', index) - tonumber(ARGV[7])
if excess > 0 then
  for _, m in ipairs(redis.call('ZRANGE', index, 0, excess - 1)) do
    local id = string.sub(m, 17)
    redis.call('HDEL', KEYS[8], id)
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[9], id)
    redis.call('HDEL', KEYS[4], id)
    redis.call('ZREM', index, m)
    redis.call('ZREM', KEYS[10], m)
  end
end
return 1`,
  },
  /**
   * KEYS: status, attempts, the endpoint's due, by:pending, by:delivered, by:dead. ARGV: id, now,
   * listing member → 1, or 0 when the delivery is unknown or still pending.
   */
  tvWebhookRedeliver: {
    numberOfKeys: 6,
    lua: `local s = redis.call('HGET', KEYS[1], ARGV[1])
if s ~= 'delivered' and s ~= 'dead' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], 'pending')
redis.call('HSET', KEYS[2], ARGV[1], 0)
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
if s == 'delivered' then redis.call('ZREM', KEYS[5], ARGV[3]) else redis.call('ZREM', KEYS[6], ARGV[3]) end
redis.call('ZADD', KEYS[4], 0, ARGV[3])
return 1`,
  },
} as const;

/** The scripts as typed client methods: keys first, then arguments, as each script's comment lists them. */
export interface WebhookScriptCommands {
  tvWebhookEnqueue(...keysAndArgs: (string | number)[]): Promise<number>;
  tvWebhookClaim(...keysAndArgs: (string | number)[]): Promise<string[]>;
  tvWebhookFinish(...keysAndArgs: (string | number)[]): Promise<number>;
  tvWebhookRedeliver(...keysAndArgs: (string | number)[]): Promise<number>;
}
