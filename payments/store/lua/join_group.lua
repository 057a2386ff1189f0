-- Make an account a leaf of a group (creating it when new): kind leaf, a
-- snapshot of the price its main pays for it. The leaf's side only; the
-- group list is written apart (another hash slot). A leaf keeps no balance
-- of its own: one that holds money is refused, empty balance keys are removed.
-- A leaf counts in its main's currency: one that never received money takes it,
-- one whose money was in another currency is refused.
-- KEYS[1] leaf account hash, KEYS[2] leaf's group index string,
-- KEYS[3] plan_as_of hash of the month, KEYS[4] prepaid balance, KEYS[5] voucher balance,
-- KEYS[6] leaf's ledger stream
-- ARGV: group index, main JID, at, yyyymm, plan, version, price, the main's currency,
-- the default currency
-- Returns 1 joined, 2 already a leaf of this group, 0 in another group,
-- -1 not a trial (a paid account or closed), -2 holds money, -3 counts in another currency
local index = redis.call('GET', KEYS[2])
if index then
  if index == ARGV[1] and redis.call('HGET', KEYS[1], 'kind') == 'leaf' then
    return 2
  end
  return 0
end
local kind = redis.call('HGET', KEYS[1], 'kind')
if kind and (kind ~= 'trial' or redis.call('HGET', KEYS[1], 'status') ~= 'active') then
  return -1
end
for i = 4, 5 do
  local held = redis.call('GET', KEYS[i])
  if held and tonumber(held) ~= 0 then
    return -2
  end
end
if (redis.call('HGET', KEYS[1], 'currency') or ARGV[9]) ~= ARGV[8]
    and redis.call('XLEN', KEYS[6]) > 0 then
  return -3
end
redis.call('DEL', KEYS[4], KEYS[5])
if not kind then
  redis.call('HSET', KEYS[1], 'status', 'active', 'registered_at', ARGV[3])
end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'kind', 'leaf', 'plan', ARGV[5], 'plan_as_of', ARGV[4], 'price', ARGV[7],
  'currency', ARGV[8])
redis.call('HDEL', KEYS[1], 'trial_ends_at', 'next_plan', 'paid_until')
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[3], 'plan', ARGV[5], 'version', ARGV[6], 'price', ARGV[7],
  'kind', 'leaf', 'paid_by', ARGV[2])
return 1
