-- Add to one balance and append the ledger entry, atomically, once per ref.
-- The money is in the account's currency: its `currency` field, or the
-- default when it has none. An account that never received money takes the
-- currency of its first (it may have chosen another before: the money wins);
-- after that, money in another currency is refused. A leaf counts in its
-- main's currency, a JID held for a move arriving (status 'moving') in the moving
-- account's, and a JID with no account in the default currency, only.
-- KEYS[1] balance key, KEYS[2] ledger stream, KEYS[3] idempotency hash, KEYS[4] account hash,
-- KEYS[5] the digests of refs whose entries were archived (docs/ledger-archive.md)
-- ARGV: amount(units>0), balance name, kind, reason, ref ('' = none), at, actor,
-- currency of the amount, the default currency, the ref's digest
-- (payments.ledger.records.ref_key)
-- Returns {applied(1|0), ledger entry id ('archived' for a ref archived), balance after},
-- {-2, '', 0} another currency
local ref = ARGV[5]
if ref ~= '' then
  local seen = redis.call('HGET', KEYS[3], ref)
  if not seen and redis.call('SISMEMBER', KEYS[5], ARGV[10]) == 1 then
    seen = 'archived'
  end
  if seen then
    return {0, seen, tonumber(redis.call('GET', KEYS[1]) or '0')}
  end
end
local field = redis.call('HGET', KEYS[4], 'currency')
if (field or ARGV[9]) ~= ARGV[8] then
  local a = redis.call('HMGET', KEYS[4], 'kind', 'status')
  if redis.call('XLEN', KEYS[2]) > 0 or redis.call('EXISTS', KEYS[4]) == 0
      or a[1] == 'leaf' or a[2] == 'moving' then
    return {-2, '', 0}
  end
  redis.call('HSET', KEYS[4], 'currency', ARGV[8])
elseif not field and redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('HSET', KEYS[4], 'currency', ARGV[8])
end
local after = redis.call('INCRBY', KEYS[1], ARGV[1])
local id = redis.call('XADD', KEYS[2], '*',
  'amount', ARGV[1], 'balance', ARGV[2], 'after', after,
  'kind', ARGV[3], 'reason', ARGV[4], 'ref', ref, 'at', ARGV[6], 'actor', ARGV[7],
  'resource', '', 'quantity', '', 'grant', '')
if ref ~= '' then
  redis.call('HSET', KEYS[3], ref, id)
end
return {1, id, after}
