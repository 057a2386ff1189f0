-- Make a plan version the current one, unless a newer version is already
-- current (two operators changing a price at once end on the newest).
-- KEYS[1] plans hash; ARGV: plan id, version, JSON of that version
-- Returns 1 published, 0 a newer version is current
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local version = tonumber(string.match(current, '"version": *(%d+)'))
  if version and version >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
