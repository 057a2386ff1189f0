-- Save a card on an account once: a card whose fingerprint the account already
-- holds (the same card number saved again) is not added twice. The first card
-- saved becomes the default; the account's provider customer is kept once.
-- KEYS[1] cards hash, KEYS[2] card profile hash
-- ARGV: card id (pm_…), card JSON, fingerprint, customer
-- Returns {1, id} added, {0, id} already saved, {-1, id of the card it duplicates}
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return {0, ARGV[1]}
end
local saved = redis.call('HGETALL', KEYS[1])
for i = 1, #saved, 2 do
  local ok, card = pcall(cjson.decode, saved[i + 1])
  if ok and card.fingerprint == ARGV[3] then
    return {-1, saved[i]}
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSETNX', KEYS[2], 'customer', ARGV[4])
local default = redis.call('HGET', KEYS[2], 'default')
if not default or redis.call('HEXISTS', KEYS[1], default) == 0 then
  redis.call('HSET', KEYS[2], 'default', ARGV[1])
end
return {1, ARGV[1]}
