-- Charge one line of a period to the account that pays it: voucher balance
-- first, then prepaid, and what neither covers stays owed on the period's
-- invoice. Applied once per (period, member): a replay changes nothing and
-- reports what the first call did.
-- KEYS[1] voucher balance, KEYS[2] prepaid balance, KEYS[3] ledger stream,
-- KEYS[4] idempotency hash, KEYS[5] invoice hash of the period,
-- KEYS[6] invoices zset, KEYS[7] open invoices zset, KEYS[8] account hash
-- ARGV: period, member, plan, amount (units >= 0), at, actor, reason
-- Returns {applied(1|0), from voucher, from prepaid, owed on this line, owed on the invoice,
-- voucher + prepaid balance after}
local period, member, amount = ARGV[1], ARGV[2], tonumber(ARGV[4])
local line = 'line:' .. member
local ref = 'renew:' .. period .. ':' .. member

local seen = redis.call('HGET', KEYS[5], line)
if seen then
  local _, a, v, p = string.match(seen, '^(.*)|(%d+)|(%d+)|(%d+)$')
  local owed = tonumber(a) - tonumber(v) - tonumber(p)
  local left = tonumber(redis.call('GET', KEYS[1]) or '0') + tonumber(redis.call('GET', KEYS[2]) or '0')
  return {0, tonumber(v), tonumber(p), owed, tonumber(redis.call('HGET', KEYS[5], 'due') or '0'), left}
end

local function take(key, name, want)
  if want <= 0 then return 0 end
  local have = tonumber(redis.call('GET', key) or '0')
  local got = math.min(have, want)
  if got <= 0 then return 0 end
  local after = redis.call('DECRBY', key, got)
  local entry_ref = ref .. ':' .. name
  local id = redis.call('XADD', KEYS[3], '*',
    'amount', string.format('-%d', got), 'balance', name, 'after', string.format('%d', after),
    'kind', 'charge', 'reason', ARGV[7], 'ref', entry_ref, 'at', ARGV[5], 'actor', ARGV[6])
  redis.call('HSET', KEYS[4], entry_ref, id)
  return got
end

local from_voucher = take(KEYS[1], 'voucher', amount)
local from_prepaid = take(KEYS[2], 'prepaid', amount - from_voucher)
local owed = amount - from_voucher - from_prepaid

redis.call('HSET', KEYS[4], ref, 'invoice:' .. period)
redis.call('HSET', KEYS[5], line, string.format('%s|%d|%d|%d', ARGV[3], amount, from_voucher, from_prepaid))
if redis.call('HSETNX', KEYS[5], 'issued_at', ARGV[5]) == 1 then
  redis.call('HSET', KEYS[5], 'period', period, 'status', 'paid', 'total', 0, 'paid', 0, 'due', 0)
end
redis.call('HINCRBY', KEYS[5], 'total', amount)
redis.call('HINCRBY', KEYS[5], 'paid', from_voucher + from_prepaid)
local due = redis.call('HINCRBY', KEYS[5], 'due', owed)
redis.call('ZADD', KEYS[6], tonumber(period), period)
if due > 0 then
  redis.call('HSET', KEYS[5], 'status', 'open')
  redis.call('HDEL', KEYS[5], 'settled_at')
  redis.call('ZADD', KEYS[7], due, period)
  if redis.call('HEXISTS', KEYS[8], 'unpaid_since') == 0 then
    redis.call('HSET', KEYS[8], 'unpaid_since', ARGV[5])
  end
end
local left = tonumber(redis.call('GET', KEYS[1]) or '0') + tonumber(redis.call('GET', KEYS[2]) or '0')
return {1, from_voucher, from_prepaid, owed, due, left}
