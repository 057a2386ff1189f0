-- Add to one balance and append the ledger entry, atomically, once per ref.
-- KEYS[1] balance key, KEYS[2] ledger stream, KEYS[3] idempotency hash
-- ARGV: amount(units>0), balance name, kind, reason, ref ('' = none), at, actor
-- Returns {applied(1|0), ledger entry id, balance after}
local ref = ARGV[5]
if ref ~= '' then
  local seen = redis.call('HGET', KEYS[3], ref)
  if seen then
    return {0, seen, tonumber(redis.call('GET', KEYS[1]) or '0')}
  end
end
local after = redis.call('INCRBY', KEYS[1], ARGV[1])
local id = redis.call('XADD', KEYS[2], '*',
  'amount', ARGV[1], 'balance', ARGV[2], 'after', after,
  'kind', ARGV[3], 'reason', ARGV[4], 'ref', ref, 'at', ARGV[6], 'actor', ARGV[7])
if ref ~= '' then
  redis.call('HSET', KEYS[3], ref, id)
end
return {1, id, after}
