-- An operator's refund to cards, spread over card payments (newest first, as the
-- caller planned it): checked and written in one step, once per ref. The prepaid
-- balance pays it back (never below zero), one 'refund' ledger entry, and each
-- payment's refunded figure grows, so a payment is never refunded beyond what is
-- left of it (less what was disputed). The plan is kept for a re-run to finish.
-- KEYS[1] prepaid balance, KEYS[2] ledger stream, KEYS[3] idempotency hash,
-- KEYS[4] card payments hash, KEYS[5] refunds hash
-- ARGV: ref key K, total, reason, at, actor, plan ('pi:units,pi:units'), then
-- payment intent, units pairs
-- Returns {1, plan} done, {0, plan} done before, {-1, prepaid} not that much
-- unspent, {-2, payment, refundable} a payment that cannot give that much
--! include card_payments
local ref = 'refund:' .. ARGV[1]
if redis.call('HGET', KEYS[3], ref) then
  return {0, redis.call('HGET', KEYS[5], ARGV[1]) or ''}
end
local total = tonumber(ARGV[2])
local prepaid = tonumber(redis.call('GET', KEYS[1]) or '0')
if prepaid < total then
  return {-1, prepaid}
end
local found = {}
for i = 7, #ARGV, 2 do
  local p = read_payment(KEYS[4], ARGV[i])
  local left = p and (p.amount - p.refunded - p.disputed) or 0
  if left < tonumber(ARGV[i + 1]) then
    return {-2, ARGV[i], left}
  end
  found[ARGV[i]] = p
end
for i = 7, #ARGV, 2 do
  local p = found[ARGV[i]]
  p.refunded = p.refunded + tonumber(ARGV[i + 1])
  write_payment(KEYS[4], ARGV[i], p)
end
book(KEYS[1], KEYS[2], KEYS[3], -total, 'refund', ARGV[3], ref, ARGV[4], ARGV[5])
redis.call('HSET', KEYS[5], ARGV[1], ARGV[6])
return {1, ARGV[6]}
