-- The new JID claims the offer recorded on the old account: once, before it
-- expires, and only the JID it was made for. From here the move goes on to its
-- end (the repair finishes it after a crash). Claimed again by that JID, or a move
-- under way: go on.
-- KEYS[1] the old account's move record
-- ARGV: move id (the code), claimer, now (Unix), now (ISO)
-- Returns 1 claimed now, 0 claimed before (go on), -1 not this offer (or not for this
-- JID), -2 expired, -3 done before
local r = redis.call('HMGET', KEYS[1], 'id', 'new', 'expires_ts', 'state')
if r[1] ~= ARGV[1] or r[2] ~= ARGV[2] then
  return -1
end
if r[4] == 'claimed' or r[4] == 'sealed' then
  return 0
end
if r[4] == 'done' then
  return -3
end
if tonumber(ARGV[3]) >= tonumber(r[3]) then
  return -2
end
redis.call('HSET', KEYS[1], 'state', 'claimed', 'claimed_at', ARGV[4])
return 1
