-- Move an account's renewal date on once a period is billed (or skipped
-- while frozen). Compare-and-set on the date the caller renewed for, so a
-- second run of the same period changes nothing.
-- KEYS[1] account hash
-- ARGV: the renewal date billed (ISO, as stored), the next one, period
-- Returns 1 moved on, 0 someone else already did
if redis.call('HGET', KEYS[1], 'next_renewal_at') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'next_renewal_at', ARGV[2], 'last_period', ARGV[3])
return 1
