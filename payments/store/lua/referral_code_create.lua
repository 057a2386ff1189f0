-- Write a referral code unless that code exists already. A global key: the
-- referrer's own record names it next (a separate step, HSETNX).
-- KEYS[1] code hash; ARGV: referrer, created_at
-- Returns 1 written, 0 the code exists (the caller draws another)
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'referrer', ARGV[1], 'created_at', ARGV[2], 'status', 'open')
return 1
