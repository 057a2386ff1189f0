-- Give an active account its phone number (the account's side).
-- KEYS[1] account hash; ARGV: number
-- Returns the number it had before ('' = none), false when no active account
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then
  return false
end
local before = redis.call('HGET', KEYS[1], 'number') or ''
redis.call('HSET', KEYS[1], 'number', ARGV[1])
return before
