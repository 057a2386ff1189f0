-- A group's list names the new JID of a move where it named the old one (the
-- main first, or one of the leaves); once.
-- KEYS[1] the group's list; ARGV: old JID, new JID
-- Returns 1 replaced, 0 nothing to replace
local at = redis.call('LPOS', KEYS[1], ARGV[1])
if not at then
  return 0
end
if redis.call('LPOS', KEYS[1], ARGV[2]) then
  redis.call('LREM', KEYS[1], 0, ARGV[1])
else
  redis.call('LSET', KEYS[1], at, ARGV[2])
end
return 1
