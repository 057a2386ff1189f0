-- Make a saved card the default one (only a card the account holds).
-- KEYS[1] cards hash, KEYS[2] card profile hash
-- ARGV: card id
-- Returns 1 done, 0 no such card
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[2], 'default', ARGV[1])
return 1
