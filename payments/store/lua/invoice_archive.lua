-- Drop paid invoices that went to the archive (the caller wrote them to the archive's
-- file and read it back first): the hash and its period in the account's list. An
-- invoice not paid in full (a period reopened meanwhile) stays.
-- KEYS[1] the account's invoices (sorted set of periods), KEYS[2..] the invoices
-- ARGV the periods (YYYYMM), in the order of KEYS[2..]
-- Returns how many were dropped
local dropped = 0
for i, period in ipairs(ARGV) do
  local status, due = unpack(redis.call('HMGET', KEYS[i + 1], 'status', 'due'))
  if status == 'paid' and due == '0' then
    redis.call('DEL', KEYS[i + 1])
    redis.call('ZREM', KEYS[1], period)
    dropped = dropped + 1
  end
end
return dropped
