-- A move that cannot go on (the new JID is in use, or the old account could not be
-- sealed: nothing moved): its record on the old account goes, so the account may
-- move again later. Only before it was sealed.
-- KEYS[1] the old account's move record; ARGV: move id
-- Returns 1 dropped, 0 not this move (or sealed: it only goes forward)
local r = redis.call('HMGET', KEYS[1], 'id', 'state')
if r[1] ~= ARGV[1] or (r[2] ~= 'offered' and r[2] ~= 'claimed') then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
