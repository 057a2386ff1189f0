-- Renew one period of one account, atomically: the plan chosen with `plan ID`
-- switched in, one line per member (the account itself, each leaf it pays
-- for, each recurring pack) charged from the voucher balance first, then
-- prepaid, what neither covers left owed on the period's invoice, the
-- credits of recurring packs granted once their line is paid, and the
-- renewal date moved on. Checked against the state at commit: the renewal
-- date, the held mark, the plan snapshot in force and the plan choice must be
-- those the caller read (else nothing changes: the caller reads again).
-- A billing-frozen account is not billed: its renewal is held (the date does
-- not move) until the freeze is lifted; the caller then renews it as a new
-- monthly cycle starting at that moment.
-- KEYS[1] account, [2] freezes, [3] voucher balance, [4] prepaid balance,
-- [5] ledger, [6] idempotency, [7] invoice of the period, [8] invoices,
-- [9] open invoices, [10] plan_as_of of the period, [11] autobuy, [12] grants,
-- [13] the plan_as_of snapshot in force as read
-- ARGV[1] next_renewal_at as read, [2] renewal_held as read ('' none),
-- [3] plan_as_of as read, [4] next_plan as read ('' none), [5] period,
-- [6] the following renewal (ISO), [7] renewal day ('' keep), [8] at (ISO),
-- [9] at (Unix), [10] actor, [11] plan switched to ('' keep), [12] its
-- version, [13] its price, [14] n, then n triples (leaf, plan, price)
-- Returns {status, due on the invoice, voucher + prepaid after, lines...}:
-- status 1 renewed, 0 changed meanwhile (read again), -1 billing-frozen
-- (held), -2 not an active paid account; a line is {member, plan, amount,
-- from voucher, from prepaid}, for the lines charged by this call.
--! include books
--! include grants
local account = KEYS[1]
local fields = redis.call('HMGET', account, 'status', 'kind', 'next_renewal_at', 'renewal_held',
  'plan_as_of', 'next_plan', 'plan')
if fields[1] ~= 'active' or fields[2] ~= 'paid' then
  return {-2, 0, 0}
end
if (fields[3] or '') ~= ARGV[1] or (fields[4] or '') ~= ARGV[2] or (fields[5] or '') ~= ARGV[3]
    or (fields[6] or '') ~= ARGV[4] then
  return {0, 0, 0}
end
if redis.call('HEXISTS', KEYS[2], 'billing') == 1 then
  if ARGV[2] == '' then
    redis.call('HSET', account, 'renewal_held', ARGV[8])
  end
  return {-1, 0, 0}
end

local me = string.match(account, '{(.*)}$')
local period, at, at_unix, actor = ARGV[5], ARGV[8], tonumber(ARGV[9]), ARGV[10]
local label = string.sub(period, 1, 4) .. '-' .. string.sub(period, 5, 6)

-- The plan: the one chosen with `plan ID` (snapshotted at its current price), or the same.
local own_plan = redis.call('HGET', KEYS[13], 'plan') or fields[7]
local own_price = tonumber(redis.call('HGET', KEYS[13], 'price') or '0')
if ARGV[11] ~= '' then
  redis.call('DEL', KEYS[10])
  redis.call('HSET', KEYS[10], 'plan', ARGV[11], 'version', ARGV[12], 'price', ARGV[13],
    'kind', 'paid', 'paid_by', '')
  redis.call('HSET', account, 'plan', ARGV[11], 'plan_as_of', period)
  own_plan, own_price = ARGV[11], tonumber(ARGV[13])
end
if ARGV[4] ~= '' then
  redis.call('HDEL', account, 'next_plan')
end

-- The lines: the account, its leaves (as the caller read them), its recurring packs.
local lines = {{me, own_plan, own_price, own_plan .. ' ' .. label}}
for i = 0, tonumber(ARGV[14]) - 1 do
  local leaf, plan = ARGV[15 + 3 * i], ARGV[16 + 3 * i]
  table.insert(lines, {leaf, plan, tonumber(ARGV[17 + 3 * i]), plan .. ' ' .. label .. ' for ' .. leaf})
end
local packs = redis.call('HGETALL', KEYS[11])
for i = 1, #packs, 2 do
  local version, r, quantity, price, days = string.match(packs[i + 1],
    '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|')
  local member = 'pack ' .. packs[i]
  table.insert(lines, {member, 'credits', tonumber(price), 'credits ' .. label .. ' for ' .. member})
  local expires = at_unix + tonumber(days) * 86400
  local grant = table.concat({r, quantity, quantity, string.format('%d', expires), packs[i],
    civil_day(math.floor(expires / 86400)), version, price, at}, '|')
  redis.call('HSETNX', KEYS[7], 'grant:auto-' .. period .. '-' .. packs[i], grant)
end

if redis.call('HSETNX', KEYS[7], 'issued_at', at) == 1 then
  redis.call('HSET', KEYS[7], 'period', period, 'status', 'paid', 'total', 0, 'paid', 0, 'due', 0)
end
local reply = {1, 0, 0}
for _, line in ipairs(lines) do
  local member, plan, amount, reason = line[1], line[2], line[3], line[4]
  if redis.call('HEXISTS', KEYS[7], 'line:' .. member) == 0 then
    local ref = 'renew:' .. period .. ':' .. member
    local v = take(KEYS[3], KEYS[5], KEYS[6], 'voucher', amount, ref, reason, at, actor)
    local p = take(KEYS[4], KEYS[5], KEYS[6], 'prepaid', amount - v, ref, reason, at, actor)
    redis.call('HSET', KEYS[6], ref, 'invoice:' .. period)
    redis.call('HSET', KEYS[7], 'line:' .. member, string.format('%s|%d|%d|%d', plan, amount, v, p))
    redis.call('HINCRBY', KEYS[7], 'total', amount)
    redis.call('HINCRBY', KEYS[7], 'paid', v + p)
    redis.call('HINCRBY', KEYS[7], 'due', amount - v - p)
    table.insert(reply, {member, plan, amount, v, p})
  end
end
redis.call('ZADD', KEYS[8], tonumber(period), period)
local due = tonumber(redis.call('HGET', KEYS[7], 'due'))
if due > 0 then
  redis.call('HSET', KEYS[7], 'status', 'open')
  redis.call('ZADD', KEYS[9], due, period)
  if redis.call('HEXISTS', account, 'unpaid_since') == 0 then
    redis.call('HSET', account, 'unpaid_since', at)
  end
else
  grant_pending(KEYS[7], KEYS[12], KEYS[5], KEYS[6], KEYS[4], period, at, actor)
end

redis.call('HSET', account, 'next_renewal_at', ARGV[6], 'last_period', period)
redis.call('HDEL', account, 'renewal_held')
if ARGV[7] ~= '' then
  redis.call('HSET', account, 'renewal_day', ARGV[7])
end
reply[2] = due
reply[3] = tonumber(redis.call('GET', KEYS[3]) or '0') + tonumber(redis.call('GET', KEYS[4]) or '0')
return reply
