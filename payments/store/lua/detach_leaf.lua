-- Detach a leaf from the group that paid for it: it becomes a trial that
-- has ended (it keeps its number and ledger; a top-up of the activation
-- amount makes it paid), with a billing freeze saying why. Once per group.
-- KEYS[1] leaf account hash, KEYS[2] leaf's group index string,
-- KEYS[3] leaf's freezes hash, KEYS[4] plan_as_of hash of the month
-- ARGV: group index, at, yyyymm, freeze record (JSON)
-- Returns 1 detached, 0 not (or no longer) in that group
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[2])
if redis.call('HGET', KEYS[1], 'kind') == 'leaf' then
  redis.call('HSET', KEYS[1], 'kind', 'trial', 'plan', 'trial', 'trial_ends_at', ARGV[2],
    'plan_as_of', ARGV[3], 'price', '0')
  redis.call('DEL', KEYS[4])
  redis.call('HSET', KEYS[4], 'plan', 'trial', 'version', '0', 'price', '0', 'kind', 'trial',
    'paid_by', '')
  redis.call('HSET', KEYS[3], 'billing', ARGV[4])
end
return 1
