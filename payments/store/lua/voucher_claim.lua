-- Mark a voucher code used by one JID, once. A code is global (not an account's
-- key): this script touches that one key; the credit is a separate, idempotent step.
-- A code in another currency than the JID counts in is not claimed, unless the JID
-- never received money (its first money sets its currency).
-- KEYS[1] voucher hash
-- ARGV: jid, now (ISO 8601), now as a unix time, the JID's currency, '1' when any
-- currency may be its first, the default currency (of a code from before currencies)
-- Returns {status, amount, batch, currency}: 1 claimed now, 0 already claimed by this JID,
-- -1 unknown, -2 expired, -3 claimed by another JID, -4 in another currency.
local v = redis.call('HMGET', KEYS[1], 'amount', 'batch', 'expires_ts', 'redeemed_by', 'currency')
local amount, batch, expires, by = v[1], v[2], v[3], v[4]
local currency = v[5] or ARGV[6]
if currency == '' then currency = ARGV[6] end
if not amount then
  return {-1, 0, '', ''}
end
if by == ARGV[1] then
  return {0, tonumber(amount), batch, currency}
end
if by and by ~= '' then
  return {-3, 0, '', ''}
end
if expires and expires ~= '' and tonumber(ARGV[3]) >= tonumber(expires) then
  return {-2, 0, '', ''}
end
if currency ~= ARGV[4] and ARGV[5] ~= '1' then
  return {-4, 0, '', currency}
end
redis.call('HSET', KEYS[1], 'redeemed_by', ARGV[1], 'redeemed_at', ARGV[2])
return {1, tonumber(amount), batch, currency}
