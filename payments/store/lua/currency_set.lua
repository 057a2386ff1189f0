-- Choose the currency an account counts in, before any money arrived (its
-- first money fixes it). A leaf counts in its main's currency.
-- Nor while a claimed move carries the account to a new JID: the new JID was
-- held in the currency the account had then, and money paid to it meanwhile
-- is in that currency.
-- KEYS[1] account hash, KEYS[2] ledger stream, KEYS[3] the account's move record
-- ARGV: currency, the default currency
-- Returns 1 set, 0 it counts in that currency already, -1 no open account,
-- -2 money arrived (fixed), -3 a leaf, -4 a move under way
local f = redis.call('HMGET', KEYS[1], 'status', 'kind', 'currency')
if f[1] ~= 'active' then
  return -1
end
if (f[3] or ARGV[2]) == ARGV[1] then
  return 0
end
if f[2] == 'leaf' then
  return -3
end
if redis.call('XLEN', KEYS[2]) > 0 then
  return -2
end
local move = redis.call('HGET', KEYS[3], 'state')
if move == 'claimed' or move == 'sealed' then
  return -4
end
redis.call('HSET', KEYS[1], 'currency', ARGV[1])
return 1
