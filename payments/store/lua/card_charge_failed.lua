-- A card charge was declined (or needs the holder: SCA): end the charge in
-- flight, note why on the card and, for an automatic top-up, count the decline
-- and give back what it had reserved of the month's cap. Only the caller that
-- still finds its charge in flight does this: a second answer for it does nothing.
-- KEYS[1] charge in flight, KEYS[2] cards hash, KEYS[3] card profile hash
-- ARGV: charge key, card id, why, purpose, amount, month (YYYYMM) of the top-up, unix now
-- Returns {1, declines in a row (automatic top-up)} ended, {0, 0} not in flight
if redis.call('HGET', KEYS[1], 'key') ~= ARGV[1] then
  return {0, 0}
end
redis.call('DEL', KEYS[1])
local text = redis.call('HGET', KEYS[2], ARGV[2])
if text then
  local card = cjson.decode(text)
  card.last_failure = ARGV[3]
  redis.call('HSET', KEYS[2], ARGV[2], cjson.encode(card))
end
if ARGV[4] ~= 'autotopup' then
  return {1, 0}
end
-- The cooldown runs from the answer too: a charge resumed late is not tried again at once.
local last = tonumber(redis.call('HGET', KEYS[3], 'autotopup_last') or '0')
redis.call('HSET', KEYS[3], 'autotopup_last', math.max(last, tonumber(ARGV[7])))
if redis.call('HGET', KEYS[3], 'autotopup_month') == ARGV[6] then
  local spent = tonumber(redis.call('HGET', KEYS[3], 'autotopup_spent') or '0')
  redis.call('HSET', KEYS[3], 'autotopup_spent', math.max(spent - tonumber(ARGV[5]), 0))
end
return {1, redis.call('HINCRBY', KEYS[3], 'autotopup_failures', 1)}
