-- Count a batch of usage events of one account, once per event id, and draw
-- what goes beyond the month's allowance on credits: the account's own
-- (pending until settled), or for a leaf its main's (a transfer the caller
-- then applies on the main, a separate single-account step).
-- An event id seen this month or last month is not counted again.
-- KEYS[1] usage hash of this month, KEYS[2] usage hash of last month,
-- KEYS[3] event ids of this month, KEYS[4] event ids of last month,
-- KEYS[5] pending draws hash, KEYS[6] transfers hash, KEYS[7] open months set
-- ARGV[1] 'own' or 'leaf', ARGV[2] the main (leaf), ARGV[3] this month, ARGV[4] last month,
-- ARGV[5..8] time to live (seconds) of KEYS[1..4], ARGV[9] n, then n pairs (resource, allowance),
-- then per event: 'c' (this month) or 'p' (last month), event id, resource, quantity
-- Returns {{counted (1|0), beyond the allowance} per event, {used this month, drawn this
-- month} per resource}
local mode, main = ARGV[1], ARGV[2]
local n = tonumber(ARGV[9])
local resources, allowance = {}, {}
for i = 0, n - 1 do
  local resource = ARGV[10 + 2 * i]
  table.insert(resources, resource)
  allowance[resource] = tonumber(ARGV[11 + 2 * i])
end
local months = {c = {KEYS[1], ARGV[3]}, p = {KEYS[2], ARGV[4]}}
local touched = {}
local results = {}
for i = 10 + 2 * n, #ARGV, 4 do
  local which, id, resource, quantity = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local seen = redis.call('SISMEMBER', KEYS[3], id) == 1 or redis.call('SISMEMBER', KEYS[4], id) == 1
  local beyond = 0
  if not seen then
    local usage, month = months[which][1], months[which][2]
    redis.call('SADD', which == 'c' and KEYS[3] or KEYS[4], id)
    local before = tonumber(redis.call('HGET', usage, 'used:' .. resource) or '0')
    local after = redis.call('HINCRBY', usage, 'used:' .. resource, quantity)
    beyond = after - math.max(allowance[resource] or 0, before)
    if beyond < 0 then beyond = 0 end
    if beyond > 0 then
      redis.call('HINCRBY', usage, 'credit:' .. resource, beyond)
      if mode == 'leaf' then
        redis.call('HSET', KEYS[6], month .. ':' .. id,
          main .. '|' .. resource .. '|' .. string.format('%d', beyond))
      else
        redis.call('HINCRBY', KEYS[5], resource, beyond)
      end
    end
    redis.call('SADD', KEYS[7], month)
    touched[which] = true
  end
  table.insert(results, seen and 0 or 1)
  table.insert(results, beyond)
end
if touched.c then
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  redis.call('EXPIRE', KEYS[3], ARGV[7])
end
if touched.p then
  redis.call('EXPIRE', KEYS[2], ARGV[6])
  redis.call('EXPIRE', KEYS[4], ARGV[8])
end
local totals = {}
for _, resource in ipairs(resources) do
  table.insert(totals, tonumber(redis.call('HGET', KEYS[1], 'used:' .. resource) or '0'))
  table.insert(totals, tonumber(redis.call('HGET', KEYS[1], 'credit:' .. resource) or '0'))
end
return {results, totals}
