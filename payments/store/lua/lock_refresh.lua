-- Extend a lock only if we still hold it (compare-and-pexpire).
-- KEYS[1] lock key; ARGV: our token, ttl in ms. Returns 1 extended, 0 lost.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
