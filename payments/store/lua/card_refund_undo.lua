-- The provider refused one part of an operator's refund for good: that part goes
-- back on the prepaid balance (a 'refund' entry of the opposite sign) and on the
-- payment's refundable figure, once per (refund, payment).
-- KEYS[1] prepaid balance, KEYS[2] ledger stream, KEYS[3] idempotency hash,
-- KEYS[4] card payments hash
-- ARGV: ref key K, payment intent, units, reason, at, actor
-- Returns 1 given back, 0 done before
--! include card_payments
local ref = 'refund:' .. ARGV[1] .. ':undo:' .. ARGV[2]
if redis.call('HGET', KEYS[3], ref) then
  return 0
end
local units = tonumber(ARGV[3])
local p = read_payment(KEYS[4], ARGV[2])
if p then
  p.refunded = math.max(p.refunded - units, 0)
  write_payment(KEYS[4], ARGV[2], p)
end
book(KEYS[1], KEYS[2], KEYS[3], units, 'refund', ARGV[4], ref, ARGV[5], ARGV[6])
return 1
