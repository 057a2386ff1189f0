-- Write one invitation or referral code unless that code exists already.
-- KEYS[1] code hash
-- ARGV: kind, main, invitee, created_at, expires_at, expires_ts, uses, key lifetime (seconds)
-- Returns 1 written, 0 the code exists (the caller draws another)
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'kind', ARGV[1], 'main', ARGV[2], 'invitee', ARGV[3],
  'created_at', ARGV[4], 'expires_at', ARGV[5], 'expires_ts', ARGV[6], 'uses', ARGV[7],
  'used', 0, 'status', 'open')
redis.call('EXPIRE', KEYS[1], ARGV[8])
return 1
