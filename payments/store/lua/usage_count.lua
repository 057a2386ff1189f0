-- Count a batch of usage events of one account, once per event id, and draw
-- what goes beyond the month's allowance on credits: the account's own
-- (pending until settled), or for a leaf its main's (a transfer the caller
-- then applies on the main, a separate single-account step).
-- An event id found in any set of the window (one per day: every day an event
-- still counted now may be from) is not counted again; a counted id joins the
-- set of its own day.
-- The window's event-id sets are named here from their days (the account's, like every
-- key of the call: one hash slot), not passed as keys: nine names per account were a
-- fifth of what the ingest sent (as bot_request.lua names the plan snapshot).
-- KEYS[1] usage hash of this month, KEYS[2] usage hash of last month,
-- KEYS[3] pending draws hash, KEYS[4] transfers hash, KEYS[5] open months set
-- ARGV[1] 'own' or 'leaf', ARGV[2] the main (leaf), ARGV[3] this month, ARGV[4] last month,
-- ARGV[5..6] time to live (seconds) of KEYS[1..2], ARGV[7] the resources and their
-- allowances in one argument 'RESOURCE:ALLOWANCE,...', ARGV[8] the window's days oldest
-- first in one argument 'YYYYMMDD:TTL,...' (the time to live of each day's set; one string
-- built once per batch), ARGV[9..10] the name of an event-id set before its day and after
-- it, then per event:
-- 'c' (this month) or 'p' (last month), its day's place in the window (1 = oldest),
-- event id, resource, quantity
-- Returns {{counted (1|0), beyond the allowance} per event, {used this month, drawn this
-- month} per resource}
local mode, main = ARGV[1], ARGV[2]
local resources, allowance = {}, {}
for resource, units in string.gmatch(ARGV[7], '([^:,]+):(%d+)') do
  table.insert(resources, resource)
  allowance[resource] = tonumber(units)
end
local day_names, day_ttls, sets_of = {}, {}, {}
for day, ttl in string.gmatch(ARGV[8], '(%d+):(%d+)') do
  table.insert(day_names, day)
  table.insert(day_ttls, ttl)
  table.insert(sets_of, ARGV[9] .. day .. ARGV[10])
end
local days = #day_names
local first_event = 11
local ids = {}
for i = first_event, #ARGV, 5 do table.insert(ids, ARGV[i + 2]) end
local known = {}
if #ids > 0 then
  for d = 1, days do
    local found = redis.call('SMISMEMBER', sets_of[d], unpack(ids))
    for i, hit in ipairs(found) do
      if hit == 1 then known[ids[i]] = true end
    end
  end
end
local months = {c = {KEYS[1], ARGV[3]}, p = {KEYS[2], ARGV[4]}}
local touched, sets = {}, {}
local results = {}
for i = first_event, #ARGV, 5 do
  local which, day, id = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local resource, quantity = ARGV[i + 3], tonumber(ARGV[i + 4])
  local beyond = 0
  local seen = known[id] == true
  if not seen then
    known[id] = true  -- the same id twice in one batch counts once
    local usage, month = months[which][1], months[which][2]
    redis.call('SADD', sets_of[day], id)
    sets[day] = true
    local before = tonumber(redis.call('HGET', usage, 'used:' .. resource) or '0')
    local after = redis.call('HINCRBY', usage, 'used:' .. resource, quantity)
    beyond = after - math.max(allowance[resource] or 0, before)
    if beyond < 0 then beyond = 0 end
    if beyond > 0 then
      redis.call('HINCRBY', usage, 'credit:' .. resource, beyond)
      if mode == 'leaf' then
        redis.call('HSET', KEYS[4], day_names[day] .. ':' .. id,
          main .. '|' .. resource .. '|' .. string.format('%d', beyond))
      else
        redis.call('HINCRBY', KEYS[3], resource, beyond)
      end
    end
    redis.call('SADD', KEYS[5], month)
    touched[which] = true
  end
  table.insert(results, seen and 0 or 1)
  table.insert(results, beyond)
end
if touched.c then redis.call('EXPIRE', KEYS[1], ARGV[5]) end
if touched.p then redis.call('EXPIRE', KEYS[2], ARGV[6]) end
for day in pairs(sets) do
  redis.call('EXPIRE', sets_of[day], day_ttls[day])
end
local totals = {}
for _, resource in ipairs(resources) do
  table.insert(totals, tonumber(redis.call('HGET', KEYS[1], 'used:' .. resource) or '0'))
  table.insert(totals, tonumber(redis.call('HGET', KEYS[1], 'credit:' .. resource) or '0'))
end
return {results, totals}
