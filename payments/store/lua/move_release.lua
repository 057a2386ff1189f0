-- Give back a JID held for a move that will not arrive (the old account could not
-- be moved): a trial it was becomes one again; a JID that had no account has none,
-- unless money reached it meanwhile (then it is a trial that has ended, keeping it).
-- KEYS[1] account hash, KEYS[2] ledger
-- ARGV: move id, at
-- Returns 1 released, 0 not held for this move
local f = redis.call('HMGET', KEYS[1], 'status', 'move_id', 'moving_was')
if f[1] ~= 'moving' or f[2] ~= ARGV[1] then
  return 0
end
if f[3] ~= 'trial' and redis.call('XLEN', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1])
  return 1
end
redis.call('HSET', KEYS[1], 'status', 'active')
redis.call('HSETNX', KEYS[1], 'trial_ends_at', ARGV[2])
redis.call('HDEL', KEYS[1], 'moving_from', 'move_id', 'moving_was')
return 1
