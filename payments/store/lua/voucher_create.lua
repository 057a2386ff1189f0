-- Write one voucher code unless that code exists already.
-- KEYS[1] voucher hash
-- ARGV: amount, batch, created_at, expires_at ('' = never), expires_ts ('' = never),
--       key expiry as a unix time ('' = keep forever), currency of the amount
-- Returns 1 written, 0 the code exists (the caller draws another).
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'amount', ARGV[1], 'batch', ARGV[2], 'created_at', ARGV[3],
  'expires_at', ARGV[4], 'expires_ts', ARGV[5], 'redeemed_by', '', 'redeemed_at', '',
  'currency', ARGV[7])
if ARGV[6] ~= '' then
  redis.call('EXPIREAT', KEYS[1], ARGV[6])
end
return 1
