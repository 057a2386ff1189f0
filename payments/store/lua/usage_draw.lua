-- Put a leaf's draws on its main's credits, once per (leaf, event): the main's
-- side of a transfer the leaf's usage_count.lua recorded.
-- KEYS[1] the main's event ids of the event's day, KEYS[2] the main's pending draws hash
-- ARGV[1] the leaf, ARGV[2] time to live (seconds) of KEYS[1], then triples (the draw's
-- member: a 63-bit integer of "draw:LEAF:EVENT", resource, quantity)
-- Returns how many draws were added (0: all applied before)
local added = 0
for i = 3, #ARGV, 3 do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    redis.call('HINCRBY', KEYS[2], ARGV[i + 1] .. '|' .. ARGV[1], ARGV[i + 2])
    added = added + 1
  end
end
if added > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return added
