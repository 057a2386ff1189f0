-- Add one freeze to an account, recording who, when, why and the state it
-- froze. A condition makes the chores' freezes safe against a payment that
-- lands at the same moment, checked at commit: 'owing' freezes only while an
-- invoice is open and the account has owed since the instant the caller read
-- (its grace is over); 'trial' only a trial whose end is the one the caller
-- read; 'any' always (operators, leaves with their main).
-- KEYS[1] freezes hash, KEYS[2] account hash, KEYS[3] open invoices zset
-- ARGV: kind, record (JSON), condition, unpaid_since or trial_ends_at as read
-- Returns 1 frozen, 0 already frozen with that kind, -1 no such active
-- account, -2 condition not met
local status = redis.call('HGET', KEYS[2], 'status')
if status ~= 'active' then
  return -1
end
if ARGV[3] == 'owing' and (redis.call('ZCARD', KEYS[3]) == 0
    or redis.call('HGET', KEYS[2], 'unpaid_since') ~= ARGV[4]) then
  return -2
end
if ARGV[3] == 'trial' and (redis.call('HGET', KEYS[2], 'kind') ~= 'trial'
    or redis.call('HGET', KEYS[2], 'trial_ends_at') ~= ARGV[4]) then
  return -2
end
return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
