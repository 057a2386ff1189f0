-- Grant the credits of a pack paid elsewhere (a recurring pack, charged as a
-- line of the renewal's invoice), with a zero-amount 'credits' ledger entry,
-- once per ref.
-- KEYS[1] idempotency hash, KEYS[2] grants hash, KEYS[3] ledger stream,
-- KEYS[4] prepaid balance (read only)
-- ARGV: ref, grant id, grant record, at, actor, reason, resource, quantity
-- Returns 1 granted, 0 granted before
if redis.call('HGET', KEYS[1], ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('XADD', KEYS[3], '*', 'amount', '0', 'balance', 'prepaid',
  'after', redis.call('GET', KEYS[4]) or '0', 'kind', 'credits', 'reason', ARGV[6],
  'ref', ARGV[1], 'at', ARGV[4], 'actor', ARGV[5],
  'resource', ARGV[7], 'quantity', ARGV[8], 'grant', ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], 'grant:' .. ARGV[2])
return 1
