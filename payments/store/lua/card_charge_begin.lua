-- Record an off-session card charge before it is sent: one charge in flight per
-- account. The same key again is a resumption (the provider answers the same
-- for it); another key while one is in flight waits its turn.
-- KEYS[1] the charge in flight (hash)
-- ARGV: key, then field, value pairs of the charge
-- Returns {1} recorded, {0} the same charge already in flight, {-1, key, started} busy
local current = redis.call('HGET', KEYS[1], 'key')
if current == ARGV[1] then
  return {0}
end
if current then
  return {-1, current, redis.call('HGET', KEYS[1], 'started') or '0'}
end
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return {1}
