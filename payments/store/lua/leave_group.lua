-- A leaf leaves its group (it asked, or its main removed it): the leaf's side,
-- after the group list dropped it. It becomes a trial that ends when the
-- period its main paid for ends (``paid_until``); then the billing rules take
-- over (the freeze chore ends the trial; a top-up of the activation amount
-- makes it a paid account). The move in flight is finished in the same step.
-- KEYS[1] account hash, KEYS[2] leaf's group index, KEYS[3] plan_as_of hash of
-- the month, KEYS[4] move hash
-- ARGV: group index, at, yyyymm, paid_until
-- Returns 1 left now, 0 not (or no longer) in that group
if redis.call('HGET', KEYS[4], 'op') == 'leave' then
  redis.call('DEL', KEYS[4])
end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[2])
if redis.call('HGET', KEYS[1], 'kind') == 'leaf' then
  redis.call('HSET', KEYS[1], 'kind', 'trial', 'plan', 'trial', 'trial_ends_at', ARGV[4],
    'paid_until', ARGV[4], 'plan_as_of', ARGV[3], 'price', '0')
  redis.call('DEL', KEYS[3])
  redis.call('HSET', KEYS[3], 'plan', 'trial', 'version', '0', 'price', '0', 'kind', 'trial',
    'paid_by', '')
end
return 1
