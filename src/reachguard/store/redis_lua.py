"""The Lua texts of the three scripts RedisCounters runs (redis_scripts.py): ACQUIRE, FINISH,
RELEASE. Apart from the Python so each script can be read whole; their SHA-1s are taken when a
RedisCounters is built, not here."""

from __future__ import annotations

_ACQUIRE = """
local token, ttl, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
for i = 1, n do
  local holder = redis.call('GET', KEYS[i])
  if holder and holder ~= token then return {0, redis.call('PTTL', KEYS[i])} end
end
for i = 1, n do redis.call('SET', KEYS[i], token, 'PX', ttl) end
local out = {1}
for j = n + 1, #KEYS do
  local first = redis.call('ZRANGE', KEYS[j], 0, 0)
  local h = ''
  if first[1] and string.sub(first[1], 1, 2) == 'h:' then h = string.sub(first[1], 3) end
  out[#out + 1] = h
  out[#out + 1] = redis.call('ZRANGEBYSCORE', KEYS[j], ARGV[3 + j - n], '+inf')
end
return out
"""

_FINISH = """
local token, n, unlock = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
local retention, keyttl, lockttl = tonumber(ARGV[4]), ARGV[5], ARGV[6]
for i = 1, n do
  if redis.call('GET', KEYS[i]) ~= token then return 0 end
end
local pos = 7
for j = n + 1, #KEYS do
  local key, newh, k = KEYS[j], ARGV[pos], tonumber(ARGV[pos + 1])
  pos = pos + 2
  local top = nil
  local i = 0
  while i < k do
    local last = math.min(k, i + 400)
    local args = {}
    for x = i, last - 1 do
      local score = ARGV[pos + 2 * x]
      args[#args + 1] = score
      args[#args + 1] = ARGV[pos + 2 * x + 1]
      local v = tonumber(score)
      if top == nil or v > top then top = v end
    end
    redis.call('ZADD', key, unpack(args))
    i = last
  end
  pos = pos + 2 * k
  local first = redis.call('ZRANGE', key, 0, 0)
  local old, h, hs = nil, nil, nil
  if first[1] and string.sub(first[1], 1, 2) == 'h:' then
    old = first[1]; hs = string.sub(old, 3); h = tonumber(hs)
  end
  if newh ~= '' and (h == nil or tonumber(newh) < h) then h = tonumber(newh); hs = newh end
  if top ~= nil and retention > 0 then
    local cut = top - retention
    redis.call('ZREMRANGEBYSCORE', key, '(-inf', '(' .. string.format('%.17g', cut))
    if h ~= nil and cut > h then h = cut; hs = string.format('%.17g', cut) end
  end
  if hs ~= nil and old ~= 'h:' .. hs then
    if old then redis.call('ZREM', key, old) end
    redis.call('ZADD', key, '-inf', 'h:' .. hs)
  end
  if k > 0 or newh ~= '' then redis.call('PEXPIRE', key, keyttl) end
end
for i = 1, n do
  if unlock then redis.call('DEL', KEYS[i]) else redis.call('PEXPIRE', KEYS[i], lockttl) end
end
return 1
"""

_RELEASE = """
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 1
"""
