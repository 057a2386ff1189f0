-- Turn a trial into a paid account, due for its first renewal at once (the
-- caller renews it right after, and the renew chore would if it crashed);
-- the billing freeze of a trial that had ended is lifted in the same step.
-- Checked at commit: still an active trial holding the activation amount and
-- owing nothing (a reopened account settles its old invoices first).
-- Once: anything but an active trial is left alone.
-- KEYS[1] account hash, KEYS[2] plan_as_of hash of the activation month,
-- KEYS[3] prepaid balance, KEYS[4] freezes hash, KEYS[5] open invoices zset
-- ARGV: at, yyyymm, plan, version, price, renewal day, activation amount (units), at (Unix),
-- currency of the price (the account's: checked), the default currency
-- Returns {1, lifted freeze record or ''} activated, {0, ''} not (not a trial, or not enough,
-- or the price in another currency than the account's)
local fields = redis.call('HMGET', KEYS[1], 'kind', 'status', 'currency')
if fields[1] ~= 'trial' or fields[2] ~= 'active' or (fields[3] or ARGV[10]) ~= ARGV[9] then
  return {0, ''}
end
if tonumber(redis.call('GET', KEYS[3]) or '0') < tonumber(ARGV[7]) or redis.call('ZCARD', KEYS[5]) > 0 then
  return {0, ''}
end
redis.call('HSET', KEYS[1], 'kind', 'paid', 'plan', ARGV[3], 'plan_as_of', ARGV[2],
  'price', ARGV[5], 'activated_at', ARGV[1], 'renewal_day', ARGV[6], 'next_renewal_at', ARGV[1],
  'next_renewal_ts', ARGV[8])
redis.call('HDEL', KEYS[1], 'next_plan', 'renewal_held', 'paid_until')
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'plan', ARGV[3], 'version', ARGV[4], 'price', ARGV[5],
  'kind', 'paid', 'paid_by', '')
local lifted = redis.call('HGET', KEYS[4], 'billing') or ''
redis.call('HDEL', KEYS[4], 'billing')
return {1, lifted}
