-- Remove a saved card. The last card of an account is kept when the caller
-- found the balances do not cover the next renewal (checked again here: two
-- removals at once must not both see another card left). A removed default
-- card is replaced by the card that succeeded last (else the oldest id).
-- KEYS[1] cards hash, KEYS[2] card profile hash
-- ARGV: card id, '1' if it may be the last card, '0' if not
-- Returns {1, new default or ''} removed, {0, ''} no such card, {-1, ''} the last card kept
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return {0, ''}
end
if ARGV[2] == '0' and redis.call('HLEN', KEYS[1]) == 1 then
  return {-1, ''}
end
redis.call('HDEL', KEYS[1], ARGV[1])
local default = redis.call('HGET', KEYS[2], 'default')
if default and default ~= ARGV[1] then
  return {1, default}
end
local best, best_success = '', -1
local saved = redis.call('HGETALL', KEYS[1])
for i = 1, #saved, 2 do
  local ok, card = pcall(cjson.decode, saved[i + 1])
  local success = (ok and tonumber(card.last_success)) or 0
  if success > best_success or (success == best_success and saved[i] < best) then
    best, best_success = saved[i], success
  end
end
if best == '' then
  redis.call('HDEL', KEYS[2], 'default')
else
  redis.call('HSET', KEYS[2], 'default', best)
end
return {1, best}
