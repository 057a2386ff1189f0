-- Pay what an open invoice still owes, in full, from the voucher balance
-- first, then prepaid; refuse (changing nothing) when both together do not
-- cover it. Once paid, the credits of its recurring packs are granted. When
-- no invoice is left open the account owes nothing: its unpaid_since mark
-- goes and, in the same step, its billing freeze is lifted (not a trial's:
-- an ended trial is unfrozen by its activation). So a payment is never seen
-- half applied: paid but still frozen, or unfrozen but still owing.
-- KEYS[1] voucher balance, KEYS[2] prepaid balance, KEYS[3] ledger stream,
-- KEYS[4] idempotency hash, KEYS[5] invoice hash, KEYS[6] open invoices zset,
-- KEYS[7] account hash, KEYS[8] freezes hash, KEYS[9] grants hash
-- ARGV: period, at, actor, reason
-- Returns {1, from voucher, from prepaid, open invoices left, lifted freeze record or ''}
-- paid, {0, 0, 0, open left, ''} nothing owed on it, {-1, missing, 0, open left, ''} refused.
--! include books
--! include dates
--! include grants
local period, at, actor = ARGV[1], ARGV[2], ARGV[3]
local due = tonumber(redis.call('HGET', KEYS[5], 'due') or '0')
if due <= 0 then
  redis.call('ZREM', KEYS[6], period)
  return {0, 0, 0, redis.call('ZCARD', KEYS[6]), ''}
end
local voucher = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), 0)
local prepaid = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'), 0)
if voucher + prepaid < due then
  return {-1, due - voucher - prepaid, 0, redis.call('ZCARD', KEYS[6]), ''}
end
local ref = 'invoice:' .. period .. ':' .. redis.call('HINCRBY', KEYS[5], 'settlements', 1)
local from_voucher = take(KEYS[1], KEYS[3], nil, 'voucher', due, ref, ARGV[4], at, actor)
local from_prepaid = take(KEYS[2], KEYS[3], nil, 'prepaid', due - from_voucher, ref, ARGV[4], at, actor)
redis.call('HINCRBY', KEYS[5], 'paid', due)
redis.call('HSET', KEYS[5], 'due', 0, 'status', 'paid', 'settled_at', at)
redis.call('ZREM', KEYS[6], period)
grant_pending(KEYS[5], KEYS[9], KEYS[3], KEYS[4], KEYS[2], period, at, actor)
local left = redis.call('ZCARD', KEYS[6])
local lifted = ''
if left == 0 then
  redis.call('HDEL', KEYS[7], 'unpaid_since')
  if redis.call('HGET', KEYS[7], 'kind') ~= 'trial' then
    lifted = redis.call('HGET', KEYS[8], 'billing') or ''
    redis.call('HDEL', KEYS[8], 'billing')
  end
end
return {1, from_voucher, from_prepaid, left, lifted}
