-- Renew one period of one account, atomically: the plan chosen with `plan ID`
-- switched in, one line per member (the account itself, each leaf it pays
-- for, each recurring pack) charged from the voucher balance first, then
-- prepaid, what neither covers left owed on the period's invoice, the
-- credits of recurring packs granted once their line is paid, and the
-- renewal date moved on. A billing-frozen account is not billed: its renewal
-- is held (the date does not move) until the freeze is lifted; the caller
-- then renews it as a new monthly cycle starting at that moment.
--
-- Two ways in:
-- 'due': the script decides from the account alone (the renew chore's fast
--   path, one call per account, no read before): due or not, the period and
--   the next date. An account that needs what only the caller can read (a
--   main with leaves, a plan chosen with `plan ID`, a held renewal) is left
--   for the other way (-4).
-- 'read': the caller read the account, decided and passes what it read; the
--   script applies it only if the account is still as read (else 0: read
--   again), so a plan changed or a payment landed meanwhile is never billed
--   from a stale view.
--
-- KEYS[1] account, [2] freezes, [3] voucher balance, [4] prepaid balance,
-- [5] ledger, [6] idempotency, [7] invoice of the period, [8] invoices,
-- [9] open invoices, [10] plan_as_of of the period, [11] autobuy, [12] grants,
-- [13] the plan_as_of snapshot in force ('read'; any key of the account for
-- 'due', which uses the account's own `plan` and `price`), [14] the
-- account's group index
-- ARGV[1] 'due' or 'read', [2] at (ISO), [3] at (Unix), [4] actor, then
-- 'due':  [5] the period (YYYYMM) the caller expects (of next_renewal_at)
-- 'read': [5] next_renewal_at as read, [6] renewal_held as read ('' none),
--   [7] plan_as_of as read, [8] next_plan as read ('' none), [9] period,
--   [10] the following renewal (ISO), [11] its Unix time, [12] renewal day
--   ('' keep), [13] plan switched to ('' keep), [14] its version, [15] its
--   price, [16] n, then n triples (leaf, plan, price)
-- Returns {status, due on the invoice, voucher + prepaid after, the following
-- renewal (Unix), unpaid since (ISO or ''), first renewal (1|0), the account's
-- currency field ('' none: the default), lines...}:
-- status 1 renewed, 0 changed meanwhile (read again), -1 billing-frozen
-- (held), -2 not an active paid account, -3 not due yet (its renewal's Unix
-- time in the 4th place), -4 'due' cannot decide alone; a line is {member,
-- plan, amount, from voucher, from prepaid}, for the lines charged by this call.
--! include books
--! include dates
--! include grants
local account = KEYS[1]
local mode, at, at_unix, actor = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local f = redis.call('HMGET', account, 'status', 'kind', 'next_renewal_at', 'renewal_held',
  'plan_as_of', 'next_plan', 'plan', 'next_renewal_ts', 'renewal_day', 'activated_at', 'price',
  'unpaid_since', 'currency')
local currency = f[13] or ''
if f[1] ~= 'active' or f[2] ~= 'paid' then
  return {-2, 0, 0, 0, '', 0, currency}
end

local period, following, following_unix, renewal_day, switch, leaves
if mode == 'due' then
  local due_unix = tonumber(f[8] or '')
  if not due_unix or not f[11] or f[4] or f[6] or redis.call('EXISTS', KEYS[14]) == 1 then
    return {-4, 0, 0, 0, '', 0, currency}
  end
  if due_unix > at_unix then
    return {-3, 0, 0, due_unix, '', 0, currency}
  end
  period = month_of(due_unix)
  if period ~= ARGV[5] then
    return {-4, 0, 0, 0, '', 0, currency}
  end
  following_unix = next_month(due_unix, tonumber(f[9] or '1'))
  following, renewal_day, switch, leaves = iso_instant(following_unix), '', nil, {}
else
  if (f[3] or '') ~= ARGV[5] or (f[4] or '') ~= ARGV[6] or (f[5] or '') ~= ARGV[7]
      or (f[6] or '') ~= ARGV[8] then
    return {0, 0, 0, 0, '', 0, currency}
  end
  period, following, following_unix, renewal_day = ARGV[9], ARGV[10], tonumber(ARGV[11]), ARGV[12]
  if ARGV[13] ~= '' then switch = {ARGV[13], ARGV[14], ARGV[15]} end
  leaves = {}
  for i = 0, tonumber(ARGV[16]) - 1 do
    table.insert(leaves, {ARGV[17 + 3 * i], ARGV[18 + 3 * i], tonumber(ARGV[19 + 3 * i])})
  end
end
if redis.call('HEXISTS', KEYS[2], 'billing') == 1 then
  if not f[4] then
    redis.call('HSET', account, 'renewal_held', at)
  end
  return {-1, 0, 0, 0, '', 0, currency}
end

local me = string.match(account, '{(.*)}$')
local label = string.sub(period, 1, 4) .. '-' .. string.sub(period, 5, 6)
local first = (f[10] ~= false and f[10] == f[3]) and 1 or 0

-- The plan: the one chosen with `plan ID` (snapshotted at its current price), or the same.
local own_plan, own_price = f[7], tonumber(f[11] or '0')
if mode == 'read' then
  own_plan = redis.call('HGET', KEYS[13], 'plan') or f[7]
  own_price = tonumber(redis.call('HGET', KEYS[13], 'price') or '0')
end
if switch then
  redis.call('DEL', KEYS[10])
  redis.call('HSET', KEYS[10], 'plan', switch[1], 'version', switch[2], 'price', switch[3],
    'kind', 'paid', 'paid_by', '')
  redis.call('HSET', account, 'plan', switch[1], 'plan_as_of', period, 'price', switch[3])
  own_plan, own_price = switch[1], tonumber(switch[3])
end
if f[6] then
  redis.call('HDEL', account, 'next_plan')
end

-- The lines: the account, its leaves (as the caller read them), its recurring packs.
local lines = {{me, own_plan, own_price, own_plan .. ' ' .. label}}
for _, leaf in ipairs(leaves) do
  table.insert(lines, {leaf[1], leaf[2], leaf[3], leaf[2] .. ' ' .. label .. ' for ' .. leaf[1]})
end
local packs = redis.call('HGETALL', KEYS[11])
for i = 1, #packs, 2 do
  local version, r, quantity, price, days = string.match(packs[i + 1],
    '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|')
  local member = 'pack ' .. packs[i]
  table.insert(lines, {member, 'credits', tonumber(price), 'credits ' .. label .. ' for ' .. member})
  local expires = at_unix + tonumber(days) * 86400
  local grant = table.concat({r, quantity, quantity, string.format('%d', expires), packs[i],
    day_label(expires), version, price, at}, '|')
  redis.call('HSETNX', KEYS[7], 'grant:auto-' .. period .. '-' .. packs[i], grant)
end

-- A new invoice is written whole in one HSET; one that holds lines already (a period
-- renewed in part before, e.g. by a join) gets the lines it lacks and its totals moved.
local fresh = redis.call('HSETNX', KEYS[7], 'issued_at', at) == 1
local voucher = tonumber(redis.call('GET', KEYS[3]) or '0')
local prepaid = tonumber(redis.call('GET', KEYS[4]) or '0')
local charged, written, total, paid = {}, {}, 0, 0
for _, line in ipairs(lines) do
  local member, plan, amount, reason = line[1], line[2], line[3], line[4]
  if fresh or redis.call('HEXISTS', KEYS[7], 'line:' .. member) == 0 then
    local ref = 'renew:' .. period .. ':' .. member
    local v = take(KEYS[3], KEYS[5], nil, 'voucher', amount, ref, reason, at, actor, voucher)
    local p = take(KEYS[4], KEYS[5], nil, 'prepaid', amount - v, ref, reason, at, actor, prepaid)
    voucher, prepaid = voucher - v, prepaid - p
    table.insert(written, 'line:' .. member)
    table.insert(written, string.format('%s|%d|%d|%d', plan, amount, v, p))
    total, paid = total + amount, paid + v + p
    table.insert(charged, {member, plan, amount, v, p})
  end
end
local due = total - paid
if fresh then
  redis.call('HSET', KEYS[7], 'period', period, 'status', due > 0 and 'open' or 'paid',
    'total', total, 'paid', paid, 'due', due, unpack(written))
else
  if #written > 0 then redis.call('HSET', KEYS[7], unpack(written)) end
  redis.call('HINCRBY', KEYS[7], 'total', total)
  redis.call('HINCRBY', KEYS[7], 'paid', paid)
  due = redis.call('HINCRBY', KEYS[7], 'due', due)
  if due > 0 then redis.call('HSET', KEYS[7], 'status', 'open') end
end
redis.call('ZADD', KEYS[8], tonumber(period), period)
local unpaid_since = f[12] or ''
if due > 0 then
  redis.call('ZADD', KEYS[9], due, period)
  if unpaid_since == '' then unpaid_since = at end
elseif #packs > 0 then
  grant_pending(KEYS[7], KEYS[12], KEYS[5], KEYS[6], KEYS[4], period, at, actor)
end

local moved = {'next_renewal_at', following, 'next_renewal_ts', following_unix,
  'last_period', period, 'price', own_price}
if renewal_day ~= '' then
  table.insert(moved, 'renewal_day')
  table.insert(moved, renewal_day)
end
if unpaid_since ~= '' and not f[12] then
  table.insert(moved, 'unpaid_since')
  table.insert(moved, unpaid_since)
end
redis.call('HSET', account, unpack(moved))
if f[4] then
  redis.call('HDEL', account, 'renewal_held')
end
local reply = {1, due, voucher + prepaid, following_unix, unpaid_since, first, currency}
for _, line in ipairs(charged) do
  table.insert(reply, line)
end
return reply
