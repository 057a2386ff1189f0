-- Turn a trial into a paid account, due for its first renewal at once
-- (the caller renews it right after, and the renew chore would if it
-- crashed). Once: anything but an active trial is left alone.
-- KEYS[1] account hash, KEYS[2] plan_as_of hash of the activation month
-- ARGV: at, yyyymm, plan, version, price, renewal day
-- Returns 1 activated, 0 not a trial (already activated, a leaf, closed)
if redis.call('HGET', KEYS[1], 'kind') ~= 'trial' or redis.call('HGET', KEYS[1], 'status') ~= 'active' then
  return 0
end
redis.call('HSET', KEYS[1], 'kind', 'paid', 'plan', ARGV[3], 'plan_as_of', ARGV[2],
  'activated_at', ARGV[1], 'renewal_day', ARGV[6], 'next_renewal_at', ARGV[1])
redis.call('HDEL', KEYS[1], 'next_plan')
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'plan', ARGV[3], 'version', ARGV[4], 'price', ARGV[5],
  'kind', 'paid', 'paid_by', '')
return 1
