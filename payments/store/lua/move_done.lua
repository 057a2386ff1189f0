-- The last step of a move: its record says it is done and forgets the snapshot.
-- KEYS[1] the old account's move record; ARGV: move id, at
-- Returns 1 done now, 0 done before (or another move)
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'state') ~= 'sealed' then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'done', 'done_at', ARGV[2])
redis.call('HDEL', KEYS[1], 'snapshot')
return 1
