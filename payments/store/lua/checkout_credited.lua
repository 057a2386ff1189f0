-- Mark a recorded checkout as credited; a checkout we never recorded stays absent.
-- KEYS[1] checkout hash
-- ARGV: credited_at
-- Returns 1 marked, 0 no such checkout.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'status', 'credited', 'credited_at', ARGV[1])
return 1
