/**
 * Lua of the audit chains (store/redis/audit-store.ts), registered with the others by scripts.ts.
 * Each call touches the keys of one chain only, all under its `{audit:<i>}` hash tag; arguments
 * are seqs, hashes, times, turn tokens and record bodies, which hold no secret (token values
 * appear only as HMACs).
 */
export const AUDIT_SCRIPTS = {
  /**
   * One audit chain. KEYS: stream, head, turn, then the grant index of each grant the batch names
   * (any number; all under the chain's tag). ARGV: expected seq ('' = empty chain), expected hash,
   * index cap, the caller's turn token ('' = none), the writer's chain count, the turn's time to
   * live in ms when a mismatch should claim it ('' = do not claim), then hash, time, body and the
   * KEYS position of the entry's grant index (0 = none) per entry; each entry's seq and prev follow
   * from the expected head (the caller checked its batch links on: store/validation.ts), so they
   * are not sent → {1}, or
   * {0, seq|nil, hash|nil, 0|2} (current head; 2 = the turn is now the caller's) on a head
   * mismatch, or {0, seq|nil, hash|nil, 1} when another writer holds the turn, or
   * {0, nil, nil, 0, 1} when the chain was written under another chain count. Claiming on the
   * mismatch saves the loser a round trip to take the turn. A holder's success releases the turn. Stream ids are `<seq>-0` so
   * XRANGE can seek by seq. The grant indexes are written in the same step as the entries, so an
   * index never names an entry that was not appended, nor misses one that was (until the cap); an
   * index is trimmed back to the cap only when a push took it past (most appends trim none).
   */
  tvAuditAppend: {
    lua: `local h = redis.call('HMGET', KEYS[2], 'seq', 'hash', 'chains')
if h[3] and h[3] ~= ARGV[5] then return {0, false, false, 0, 1} end
local t = redis.call('GET', KEYS[3])
if t and t ~= ARGV[4] then
  if not h[1] then return {0, false, false, 1} end
  return {0, h[1], h[2], 1}
end
local match
if ARGV[1] == '' then match = not h[1] else match = h[1] == ARGV[1] and h[2] == ARGV[2] end
if not match then
  local claimed = 0
  if ARGV[6] ~= '' and ARGV[4] ~= '' then
    redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[6])
    claimed = 2
  end
  return {0, h[1] or false, h[2] or false, claimed}
end
local n = #ARGV
if n >= 10 then
  local cap = tonumber(ARGV[3])
  local over = {}
  local seq = tonumber(ARGV[1]) or 0
  local prev = ARGV[2]
  local s
  for i = 7, n, 4 do
    seq = seq + 1
    s = string.format('%d', seq)
    redis.call('XADD', KEYS[1], s .. '-0', 'seq', s, 'prev', prev, 'hash', ARGV[i], 'time', ARGV[i + 1], 'body', ARGV[i + 2])
    local k = tonumber(ARGV[i + 3])
    if k > 0 and redis.call('LPUSH', KEYS[k], s) > cap then over[k] = true end
    prev = ARGV[i]
  end
  for k in pairs(over) do redis.call('LTRIM', KEYS[k], 0, cap - 1) end
  redis.call('HSET', KEYS[2], 'seq', s, 'hash', prev, 'chains', ARGV[5])
end
if t then redis.call('DEL', KEYS[3]) end
return {1}`,
  },
  /** KEYS: grant index, stream. ARGV: count → the fields of each indexed entry still in the stream, newest first. */
  tvAuditByGrant: {
    numberOfKeys: 2,
    lua: `local out = {}
for _, seq in ipairs(redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)) do
  local rows = redis.call('XRANGE', KEYS[2], seq .. '-0', seq .. '-0')
  if rows[1] then table.insert(out, rows[1][2]) end
end
return out`,
  },
  /**
   * Retention of one audit chain. KEYS: stream, head. ARGV: up to seq, before (ISO time), limit →
   * how many entries were dropped: the oldest, up to the seq, while older than the time, at most
   * `limit`. The last one dropped becomes the head's floor (`floorSeq`, `floorHash`), where
   * verification starts. Times are `toISOString()` text, which sorts as time.
   */
  tvAuditTrim: {
    numberOfKeys: 2,
    lua: `local rows = redis.call('XRANGE', KEYS[1], '-', ARGV[1] .. '-0', 'COUNT', tonumber(ARGV[3]))
local last
local n = 0
for _, row in ipairs(rows) do
  local f = row[2]
  if f[7] ~= 'time' or not (f[8] < ARGV[2]) then break end
  last = f
  n = n + 1
end
if n == 0 then return 0 end
redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d-0', tonumber(last[2]) + 1))
redis.call('HSET', KEYS[2], 'floorSeq', last[2], 'floorHash', last[6])
return n`,
  },
  /**
   * Audit writer presence (AuditStore.writers). KEYS: the writer set (a sorted set, score = when
   * the member's time runs out). ARGV: writer id, time to live in ms, '1' to leave → the live
   * members. Redis's own clock, so writers on hosts with unequal clocks agree on who is live.
   */
  tvAuditWriters: {
    numberOfKeys: 1,
    lua: `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[3] == '1' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('ZRANGE', KEYS[1], 0, -1)`,
  },
} as const;

export interface AuditScriptCommands {
  /** Called with the number of keys first (stream, head, turn, grant indexes), then the keys and ARGV. */
  tvAuditAppend(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<[number, (string | null)?, (string | null)?, number?, number?]>;
  tvAuditByGrant(index: string, stream: string, count: number): Promise<string[][]>;
  tvAuditTrim(stream: string, head: string, uptoSeq: number, before: string, limit: number): Promise<number>;
  tvAuditWriters(set: string, writer: string, ttlMs: number, leave: string): Promise<string[]>;
}
