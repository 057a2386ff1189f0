-- Create a trial account and its first plan snapshot, once; or reopen a
-- closed account with its balances, ledger and invoices: it comes back as a
-- trial that has ended (no second free trial), billing-frozen from now until
-- a top-up activates it (the caller settles and activates next). An account
-- closed by a move comes back the same way (no second free trial either).
-- KEYS[1] account hash, KEYS[2] plan_as_of_YYYYMM hash, KEYS[3] freezes hash
-- ARGV: registered_at, trial_ends_at, yyyymm, trial plan id, freeze record of a reopening,
-- currency of a new account, then field, value pairs written on a new account only
-- Returns 1 created, 2 reopened, 0 the account exists and is open (or a move is arriving).
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'active' or status == 'moving' then
  return 0
end
if status == 'closed' then
  redis.call('HSET', KEYS[1], 'kind', 'trial', 'status', 'active', 'reopened_at', ARGV[1],
    'trial_ends_at', ARGV[1], 'plan', ARGV[4], 'plan_as_of', ARGV[3], 'price', '0')
  redis.call('HDEL', KEYS[1], 'next_renewal_at', 'next_renewal_ts', 'renewal_held', 'next_plan',
    'paid_until', 'moved_to')
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], 'plan', ARGV[4], 'version', '0', 'price', '0',
    'kind', 'trial', 'paid_by', '')
  redis.call('HSET', KEYS[3], 'billing', ARGV[5])
  return 2
end
redis.call('HSET', KEYS[1], 'kind', 'trial', 'status', 'active',
  'registered_at', ARGV[1], 'trial_ends_at', ARGV[2],
  'plan', ARGV[4], 'plan_as_of', ARGV[3], 'price', '0', 'currency', ARGV[6])
for i = 7, #ARGV - 1, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('HSET', KEYS[2], 'plan', ARGV[4], 'version', '0', 'price', '0',
  'kind', 'trial', 'paid_by', '')
return 1
