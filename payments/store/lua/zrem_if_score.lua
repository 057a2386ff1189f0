-- Remove a member of a schedule only if its score is still the one the
-- caller saw (nothing was marked since): compare-and-delete.
-- KEYS[1] sorted set; ARGV: member, score seen
-- Returns 1 removed, 0 kept
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
