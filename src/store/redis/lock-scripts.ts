/**
 * Lua of the owner-token locks (store/redis/lock-store.ts), registered with the others by
 * scripts.ts. A lock is one string `<owner>|<until ms>|<lapse seen at ms>` under a long backstop
 * expiry; times are the Redis server's clock (`TIME`), so every process judges a lease alike.
 *
 * A lease that ran out is not free at once: the first contender to find it lapsed records when it
 * saw that, and the lock changes hands only once it has stayed lapsed that long again, with the
 * store answering. A holder that is alive but met a store outage longer than its lease (a rotated
 * refresh token waiting to be committed, src/grants/rotations.ts) extends it on its first retry
 * once the store answers, well within that grace, so no peer can start a refresh with the refresh
 * token it has spent. A plain `SET NX PX` lock would have expired during the outage.
 */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

export const LOCK_SCRIPTS = {
  /**
   * KEYS: lock. ARGV: owner, ttl ms, backstop ms → 1 taken, 0 held (live, or lapsed for less than
   * ttl since a contender first saw it). A value of another layout (no `|`) lapses by its own expiry.
   */
  tvAcquireLock: {
    numberOfKeys: 1,
    lua: `${NOW}
local ttl = tonumber(ARGV[2])
local v = redis.call('GET', KEYS[1])
if v then
  local owner, untilMs, seen = string.match(v, '^([^|]*)|(%d+)|(%d*)$')
  if not owner or now < tonumber(untilMs) then return 0 end
  if seen == '' then
    redis.call('SET', KEYS[1], owner .. '|' .. untilMs .. '|' .. now, 'KEEPTTL')
    return 0
  end
  if now - tonumber(seen) < ttl then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. (now + ttl) .. '|', 'PX', ARGV[3])
return 1`,
  },
  /** KEYS: lock. ARGV: owner, ttl ms, backstop ms → 1 extended (also after a lapse no one took over), 0 not the owner. */
  tvExtendLock: {
    numberOfKeys: 1,
    lua: `${NOW}
local v = redis.call('GET', KEYS[1])
if not v or string.match(v, '^([^|]*)|') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. (now + tonumber(ARGV[2])) .. '|', 'PX', ARGV[3])
return 1`,
  },
  /** KEYS: lock. ARGV: owner → 1 released, 0 not the owner. */
  tvReleaseLock: {
    numberOfKeys: 1,
    lua: `local v = redis.call('GET', KEYS[1])
if v and string.match(v, '^([^|]*)|') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  },
} as const;

/** The scripts as typed client methods: keys first, then arguments. */
export interface LockScriptCommands {
  tvAcquireLock(key: string, owner: string, ttlMs: number, backstopMs: number): Promise<number>;
  tvExtendLock(key: string, owner: string, ttlMs: number, backstopMs: number): Promise<number>;
  tvReleaseLock(key: string, owner: string): Promise<number>;
}
