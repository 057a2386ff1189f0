-- Lift one freeze. 'paid' lifts only when the account owes nothing and is
-- not a trial (a trial that ended is lifted by its activation); 'any' is an
-- operator lifting it, or a leaf whose main has paid.
-- KEYS[1] freezes hash, KEYS[2] account hash, KEYS[3] open invoices zset
-- ARGV: kind, condition
-- Returns the record lifted, false when there was none or the condition failed
if ARGV[2] == 'paid' then
  if redis.call('ZCARD', KEYS[3]) > 0 or redis.call('HGET', KEYS[2], 'kind') == 'trial' then
    return false
  end
end
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then
  return false
end
redis.call('HDEL', KEYS[1], ARGV[1])
return record
