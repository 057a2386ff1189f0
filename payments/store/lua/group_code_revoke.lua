-- A main revokes one of its codes: nobody can use it from now on.
-- KEYS[1] code hash; ARGV: main, now (ISO 8601)
-- Returns 1 revoked now, 0 not this main's open code
if redis.call('HGET', KEYS[1], 'main') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'status') ~= 'open' then
  return 0
end
redis.call('HSET', KEYS[1], 'status', 'revoked', 'revoked_at', ARGV[2])
return 1
