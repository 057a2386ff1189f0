-- Close an account: it stops renewing, its number is released; its ledger,
-- invoices and freeze records are kept. Once.
-- KEYS[1] account hash
-- ARGV: at, why
-- Returns the number released ('' when none), false when already closed or absent
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'active' then
  return false
end
local number = redis.call('HGET', KEYS[1], 'number') or ''
redis.call('HSET', KEYS[1], 'status', 'closed', 'closed_at', ARGV[1], 'closed_why', ARGV[2],
  'released_number', number)
redis.call('HDEL', KEYS[1], 'number', 'next_plan', 'next_renewal_at')
return number
