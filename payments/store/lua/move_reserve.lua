-- Hold the new JID for a move arriving: it must be no account, or a trial never
-- used (no money ever, no group, no number, no credits). It becomes a placeholder
-- (status 'moving') that nothing else changes: registration, a join, a number, a
-- purchase, a renewal all want an active account. Money paid to it meanwhile is
-- kept and added to what arrives.
-- KEYS[1] account hash, KEYS[2] ledger, KEYS[3] group index, KEYS[4] group move,
-- KEYS[5] grants
-- ARGV: move id, old JID, at, currency (the old account's)
-- Returns 1 held now, 0 held (or arrived) for this move before, -1 in use
local f = redis.call('HMGET', KEYS[1], 'status', 'move_id', 'kind', 'number')
if f[2] == ARGV[1] then
  return 0
end
local was = ''
if f[1] then
  if f[1] ~= 'active' or f[3] ~= 'trial' or (f[4] and f[4] ~= '')
      or redis.call('XLEN', KEYS[2]) > 0 or redis.call('EXISTS', KEYS[3]) == 1
      or redis.call('EXISTS', KEYS[4]) == 1 or redis.call('HLEN', KEYS[5]) > 0 then
    return -1
  end
  was = 'trial'
end
redis.call('HSETNX', KEYS[1], 'registered_at', ARGV[3])
redis.call('HSETNX', KEYS[1], 'plan', 'trial')
redis.call('HSET', KEYS[1], 'status', 'moving', 'kind', 'trial', 'moving_from', ARGV[2],
  'move_id', ARGV[1], 'moving_was', was, 'currency', ARGV[4])
return 1
