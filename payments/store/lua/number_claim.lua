-- Point a phone number at a JID (the reverse index), unless another account
-- holds it. A stale holder (its account no longer carries the number, e.g.
-- closed) is named by the caller, who checked it, and replaced.
-- KEYS[1] payment-number_owner-{NUMBER}
-- ARGV: jid, stale holder ('' = none)
-- Returns 1 pointed at jid, 0 held by another account
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] and holder ~= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
