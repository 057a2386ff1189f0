-- A card charge succeeded: credit the prepaid balance with its ledger entry,
-- once per payment (ref 'stripe:pi_…'), and in the same step record the payment
-- (for refunds and disputes), note the card's success, end the charge in flight
-- and, for an automatic top-up, clear its count of declines and start its cooldown
-- again (a charge resumed late must not be followed at once by another). The synchronous
-- answer, the webhook and a resumed charge all end here: the ref makes it once.
-- KEYS[1] prepaid balance, KEYS[2] ledger stream, KEYS[3] idempotency hash,
-- KEYS[4] charge in flight, KEYS[5] cards hash, KEYS[6] card payments hash,
-- KEYS[7] card profile hash, KEYS[8] the digests of refs whose entries were archived
-- ARGV: amount, reason, ref, at, actor, charge key, card id, payment intent, unix now,
-- purpose, now in milliseconds, the ref's digest (payments.ledger.records.ref_key)
-- Returns {applied(1|0), ledger entry id ('archived' for a ref archived), prepaid after}
local ref = ARGV[3]
local applied, id = 0, redis.call('HGET', KEYS[3], ref)
if not id and redis.call('SISMEMBER', KEYS[8], ARGV[12]) == 1 then
  id = 'archived'
end
if not id then
  local after = redis.call('INCRBY', KEYS[1], ARGV[1])
  id = redis.call('XADD', KEYS[2], '*',
    'amount', ARGV[1], 'balance', 'prepaid', 'after', after,
    'kind', 'payment', 'reason', ARGV[2], 'ref', ref, 'at', ARGV[4], 'actor', ARGV[5],
    'resource', '', 'quantity', '', 'grant', '')
  redis.call('HSET', KEYS[3], ref, id)
  applied = 1
end
local label = 'card'
local text = redis.call('HGET', KEYS[5], ARGV[7])
if text then
  local card = cjson.decode(text)
  label = card.brand .. ' …' .. card.last4
  if applied == 1 then
    card.last_success = tonumber(ARGV[9])
    card.last_failure = ''
    redis.call('HSET', KEYS[5], ARGV[7], cjson.encode(card))
  end
end
redis.call('HSETNX', KEYS[6], ARGV[8],
  table.concat({ARGV[1], '0', '0', ARGV[11], label, ref}, '|'))
if redis.call('HGET', KEYS[4], 'key') == ARGV[6] then
  redis.call('DEL', KEYS[4])
end
if ARGV[10] == 'autotopup' then
  local last = tonumber(redis.call('HGET', KEYS[7], 'autotopup_last') or '0')
  redis.call('HSET', KEYS[7], 'autotopup_failures', 0,
    'autotopup_last', math.max(last, tonumber(ARGV[9])))
end
return {applied, id, tonumber(redis.call('GET', KEYS[1]) or '0')}
