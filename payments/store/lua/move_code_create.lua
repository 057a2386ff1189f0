-- Write a move code unless that code exists already (a global key: the new JID
-- finds the old account by it; the claim itself is on the old account's record).
-- KEYS[1] code hash; ARGV: old JID, new JID, created_at, expires (Unix), key lifetime (s)
-- Returns 1 written, 0 the code exists (the caller draws another)
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'old', ARGV[1], 'new', ARGV[2], 'created_at', ARGV[3],
  'expires_ts', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
