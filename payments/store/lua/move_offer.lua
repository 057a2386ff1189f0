-- Record a move of this (the old) account to a new JID, not yet claimed: the
-- offer, replacing an earlier one (whose code then no longer matches). A move
-- claimed or under way is left alone.
-- KEYS[1] the account's move record, KEYS[2] its account hash
-- ARGV: id (the code, or an operator's id), new JID, code ('' for an operator's move), at,
-- expires (Unix), by
-- Returns 1 offered, -1 no open account, -2 a move of it is claimed or under way
if redis.call('HGET', KEYS[2], 'status') ~= 'active' then
  return -1
end
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'claimed' or state == 'sealed' then
  return -2
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'new', ARGV[2], 'code', ARGV[3], 'at', ARGV[4],
  'expires_ts', ARGV[5], 'by', ARGV[6], 'state', 'offered')
return 1
