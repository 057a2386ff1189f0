-- Take over a lock whose holder we know is dead (compare-and-set).
-- KEYS[1] lock key; ARGV: the dead holder's token, our token, ttl in ms.
-- Returns 1 taken, 0 the lock changed meanwhile.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
