-- An automatic top-up claimed but not charged (another charge of the account was
-- in flight): its claim is given back, the cooldown and the month's cap as they
-- were, unless a later claim was made meanwhile.
-- KEYS[1] card profile hash
-- ARGV: the claim's number, its amount, its month (YYYYMM)
-- Returns 1 released, 0 not the latest claim
if redis.call('HGET', KEYS[1], 'autotopup_number') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'autotopup_last', 0)
if redis.call('HGET', KEYS[1], 'autotopup_month') == ARGV[3] then
  local spent = tonumber(redis.call('HGET', KEYS[1], 'autotopup_spent') or '0')
  redis.call('HSET', KEYS[1], 'autotopup_spent', math.max(spent - tonumber(ARGV[2]), 0))
end
return 1
