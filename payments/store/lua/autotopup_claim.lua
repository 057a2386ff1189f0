-- May an automatic top-up be charged now? Once per cooldown, within the monthly
-- cap, never for an account an operator froze (or a disputed one), only while
-- prepaid is below the threshold: decided and claimed in one step, so charges
-- that land at once trigger one top-up. The claim reserves the amount in the
-- month's cap (a decline gives it back) and numbers the top-up.
-- KEYS[1] card profile hash, KEYS[2] prepaid balance, KEYS[3] freezes hash,
-- KEYS[4] account hash
-- ARGV: unix now, cooldown (s), month (YYYYMM), monthly cap (units), declines that stop it
-- Returns {1, number, amount} claimed, {0, why} not now
local amount = tonumber(redis.call('HGET', KEYS[1], 'autotopup_amount') or '0')
if amount <= 0 then
  return {0, 'off'}
end
if redis.call('HGET', KEYS[4], 'status') ~= 'active' then
  return {0, 'closed'}
end
for _, kind in ipairs(redis.call('HKEYS', KEYS[3])) do
  if kind ~= 'billing' then
    return {0, 'frozen'}
  end
end
local below = tonumber(redis.call('HGET', KEYS[1], 'autotopup_below') or '0')
if tonumber(redis.call('GET', KEYS[2]) or '0') >= below then
  return {0, 'not_low'}
end
if tonumber(redis.call('HGET', KEYS[1], 'autotopup_failures') or '0') >= tonumber(ARGV[5]) then
  return {0, 'declined'}
end
local last = tonumber(redis.call('HGET', KEYS[1], 'autotopup_last') or '0')
if tonumber(ARGV[1]) - last < tonumber(ARGV[2]) then
  return {0, 'cooldown'}
end
local spent = 0
if redis.call('HGET', KEYS[1], 'autotopup_month') == ARGV[3] then
  spent = tonumber(redis.call('HGET', KEYS[1], 'autotopup_spent') or '0')
end
if spent + amount > tonumber(ARGV[4]) then
  return {0, 'cap'}
end
redis.call('HSET', KEYS[1], 'autotopup_last', ARGV[1], 'autotopup_month', ARGV[3],
  'autotopup_spent', spent + amount)
return {1, redis.call('HINCRBY', KEYS[1], 'autotopup_number', 1), amount}
