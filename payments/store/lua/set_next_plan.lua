-- Record the plan an account chose with `plan ID` (applied at its next
-- renewal, or at activation for a trial); '' clears the choice.
-- KEYS[1] account hash
-- ARGV: plan id or ''
-- Returns 1 recorded, 0 no active account
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then
  return 0
end
if ARGV[1] == '' then
  redis.call('HDEL', KEYS[1], 'next_plan')
else
  redis.call('HSET', KEYS[1], 'next_plan', ARGV[1])
end
return 1
