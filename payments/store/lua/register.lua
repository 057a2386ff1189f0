-- Create a trial account and its first plan snapshot, once.
-- KEYS[1] account hash, KEYS[2] plan_as_of_YYYYMM hash
-- ARGV: registered_at, trial_ends_at, yyyymm, trial plan id
-- Returns 1 created, 0 the account already exists.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'kind', 'trial', 'status', 'active',
  'registered_at', ARGV[1], 'trial_ends_at', ARGV[2],
  'plan', ARGV[4], 'plan_as_of', ARGV[3])
redis.call('HSET', KEYS[2], 'plan', ARGV[4], 'version', '0', 'price', '0',
  'kind', 'trial', 'paid_by', '')
return 1
