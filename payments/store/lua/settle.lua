-- Pay what an open invoice still owes, in full, from the voucher balance
-- first, then prepaid; refuse (changing nothing) when both together do not
-- cover it. When no invoice is left open the account owes nothing:
-- its unpaid_since mark goes.
-- KEYS[1] voucher balance, KEYS[2] prepaid balance, KEYS[3] ledger stream,
-- KEYS[4] idempotency hash, KEYS[5] invoice hash, KEYS[6] open invoices zset,
-- KEYS[7] account hash
-- ARGV: period, at, actor, reason
-- Returns {1, from voucher, from prepaid, open invoices left} paid,
-- {0, 0, 0, open left} nothing owed on it, {-1, missing, 0, open left} refused.
local period = ARGV[1]
local due = tonumber(redis.call('HGET', KEYS[5], 'due') or '0')
if due <= 0 then
  redis.call('ZREM', KEYS[6], period)
  return {0, 0, 0, redis.call('ZCARD', KEYS[6])}
end
local voucher = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), 0)
local prepaid = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'), 0)
if voucher + prepaid < due then
  return {-1, due - voucher - prepaid, 0, redis.call('ZCARD', KEYS[6])}
end
local n = redis.call('HINCRBY', KEYS[5], 'settlements', 1)
local ref = 'invoice:' .. period .. ':' .. n

local function take(key, name, got)
  if got <= 0 then return 0 end
  local after = redis.call('DECRBY', key, got)
  local entry_ref = ref .. ':' .. name
  local id = redis.call('XADD', KEYS[3], '*',
    'amount', string.format('-%d', got), 'balance', name, 'after', string.format('%d', after),
    'kind', 'charge', 'reason', ARGV[4], 'ref', entry_ref, 'at', ARGV[2], 'actor', ARGV[3])
  redis.call('HSET', KEYS[4], entry_ref, id)
  return got
end

local from_voucher = take(KEYS[1], 'voucher', math.min(voucher, due))
local from_prepaid = take(KEYS[2], 'prepaid', due - from_voucher)
redis.call('HINCRBY', KEYS[5], 'paid', due)
redis.call('HSET', KEYS[5], 'due', 0, 'status', 'paid', 'settled_at', ARGV[2])
redis.call('ZREM', KEYS[6], period)
local left = redis.call('ZCARD', KEYS[6])
if left == 0 then
  redis.call('HDEL', KEYS[7], 'unpaid_since')
end
return {1, from_voucher, from_prepaid, left}
