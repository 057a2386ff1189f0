-- Give a use of a code back: the join it started was refused (the main could
-- not pay), so the same JID may try again later. Once per claim.
-- KEYS[1] code hash; ARGV: jid
-- Returns 1 given back, 0 this JID held no claim
if redis.call('HDEL', KEYS[1], 'by:' .. ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'used', -1)
  return 1
end
return 0
