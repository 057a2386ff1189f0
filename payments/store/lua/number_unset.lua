-- Take a phone number from an account, if it still has that number.
-- KEYS[1] account hash; ARGV: number
-- Returns 1 taken, 0 the account has another number or none
if redis.call('HGET', KEYS[1], 'number') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'number')
  return 1
end
return 0
