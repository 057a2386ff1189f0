-- Forget a charge in flight that the provider never made (it was looked up
-- there), if it is still the one in flight.
-- KEYS[1] charge in flight; ARGV: its key
-- Returns 1 dropped, 0 another charge (or none) in flight
if redis.call('HGET', KEYS[1], 'key') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
