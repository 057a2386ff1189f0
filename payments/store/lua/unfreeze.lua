-- Lift one freeze. 'paid' is payment lifting the billing freeze: only when
-- the account owes nothing and is not a trial (an ended trial is unfrozen by
-- its activation); 'with_main' is a leaf whose main paid: only the freeze set
-- with that main (not one an operator set on the leaf); 'any' is an operator.
-- KEYS[1] freezes hash, KEYS[2] account hash, KEYS[3] open invoices zset
-- ARGV: kind, condition, the main (with_main)
-- Returns the record lifted, false when there was none or the condition failed
if redis.call('HGET', KEYS[2], 'status') ~= 'active' then
  return false  -- a closed account keeps the records of what closed it
end
if ARGV[2] == 'paid' then
  if redis.call('ZCARD', KEYS[3]) > 0 or redis.call('HGET', KEYS[2], 'kind') == 'trial' then
    return false
  end
end
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then
  return false
end
if ARGV[2] == 'with_main' then
  local ok, data = pcall(cjson.decode, record)
  if not ok or type(data.state) ~= 'table' or data.state.frozen_with ~= ARGV[3] then
    return false
  end
end
redis.call('HDEL', KEYS[1], ARGV[1])
return record
