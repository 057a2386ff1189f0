-- Close an account for a debt: it stops renewing, its number is released;
-- its balances, ledger, invoices and freeze records are kept (`register`
-- reopens it with them). Checked at commit: the billing freeze it is closed
-- for must still be the one the caller read (a payment that landed meanwhile
-- lifted it in the same step as it settled the debt: nothing is closed). Once.
-- KEYS[1] account hash, KEYS[2] freezes hash
-- ARGV: at, why, the billing freeze record as read
-- Returns the number released ('' when none), false when not closed
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then
  return false
end
if redis.call('HGET', KEYS[2], 'billing') ~= ARGV[3] then
  return false
end
local number = redis.call('HGET', KEYS[1], 'number') or ''
redis.call('HSET', KEYS[1], 'status', 'closed', 'closed_at', ARGV[1], 'closed_why', ARGV[2],
  'released_number', number)
redis.call('HDEL', KEYS[1], 'number', 'next_plan', 'next_renewal_at', 'next_renewal_ts',
  'renewal_held')
return number
