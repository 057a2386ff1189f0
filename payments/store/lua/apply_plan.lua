-- At a renewal, switch to the plan the user chose with `plan ID`: a new
-- snapshot of that plan's current price for the period, once.
-- KEYS[1] account hash, KEYS[2] plan_as_of hash of the period
-- ARGV: the chosen plan (as read), period, plan, version, price
-- Returns 1 switched, 0 the choice changed or was applied already
if redis.call('HGET', KEYS[1], 'next_plan') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'plan', ARGV[3], 'version', ARGV[4], 'price', ARGV[5],
  'kind', 'paid', 'paid_by', '')
redis.call('HSET', KEYS[1], 'plan', ARGV[3], 'plan_as_of', ARGV[2])
redis.call('HDEL', KEYS[1], 'next_plan')
return 1
