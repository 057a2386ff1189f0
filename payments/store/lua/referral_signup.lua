-- A newcomer signed up with the referrer's code: counted once per newcomer.
-- KEYS[1] the referrer's referrals hash; ARGV: newcomer, at
-- Returns 1 counted now, 0 counted before
if redis.call('HSETNX', KEYS[1], 'new:' .. ARGV[1], 'signed_up|' .. ARGV[2]) == 0 then
  return 0
end
redis.call('HINCRBY', KEYS[1], 'signups', 1)
return 1
