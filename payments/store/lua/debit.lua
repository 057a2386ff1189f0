-- Take from one balance and append the ledger entry, atomically, once per ref.
-- Never takes the balance below zero: reports what is missing instead.
-- The amount must be in the account's currency (its `currency` field, or the default).
-- KEYS[1] balance key, KEYS[2] ledger stream, KEYS[3] idempotency hash, KEYS[4] account hash,
-- KEYS[5] the digests of refs whose entries were archived (docs/ledger-archive.md)
-- ARGV: amount(units>0), balance name, kind, reason, ref ('' = none), at, actor,
-- currency of the amount, the default currency, the ref's digest
-- (payments.ledger.records.ref_key)
-- Returns {1, id, after} applied, {0, id, balance} already applied ('archived' for a
-- ref archived), {-1, '', missing} refused, {-2, '', 0} another currency.
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
if (redis.call('HGET', KEYS[4], 'currency') or ARGV[9]) ~= ARGV[8] then
  return {-2, '', 0}
end
local amount = tonumber(ARGV[1])
local balance = tonumber(redis.call('GET', KEYS[1]) or '0')
if balance < amount then
  return {-1, '', amount - balance}
end
local after = redis.call('DECRBY', KEYS[1], ARGV[1])
local id = redis.call('XADD', KEYS[2], '*',
  'amount', '-' .. ARGV[1], 'balance', ARGV[2], 'after', after,
  'kind', ARGV[3], 'reason', ARGV[4], 'ref', ref, 'at', ARGV[6], 'actor', ARGV[7],
  'resource', '', 'quantity', '', 'grant', '')
if ref ~= '' then
  redis.call('HSET', KEYS[3], ref, id)
end
return {1, id, after}
