-- The provider says a card payment was refunded up to TOTAL (its webhook; a
-- refund made in its dashboard, or one of ours). What our records do not count
-- yet is taken from the prepaid balance with a 'refund' entry, as far as the
-- balance holds it (money already spent is not taken: the caller tells the
-- operators), and the payment's refunded figure becomes TOTAL. A replay, or the
-- webhook of a refund we made (counted before it was sent), finds nothing new.
-- KEYS[1] prepaid balance, KEYS[2] ledger stream, KEYS[3] idempotency hash,
-- KEYS[4] card payments hash
-- ARGV: payment intent, total refunded (units), reason, at, actor
-- Returns {1, taken, not taken} recorded, {0, 0, 0} nothing new, {-1, 0, 0} unknown payment
--! include card_payments
local p = read_payment(KEYS[4], ARGV[1])
if not p then
  return {-1, 0, 0}
end
local new = tonumber(ARGV[2]) - p.refunded
if new <= 0 then
  return {0, 0, 0}
end
p.refunded = tonumber(ARGV[2])
write_payment(KEYS[4], ARGV[1], p)
local have = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), 0)
local taken = math.min(new, have)
if taken > 0 then
  local ref = string.format('stripe-refund:%s:%d', ARGV[1], p.refunded)
  book(KEYS[1], KEYS[2], KEYS[3], -taken, 'refund', ARGV[3], ref, ARGV[4], ARGV[5])
end
return {1, taken, new - taken}
