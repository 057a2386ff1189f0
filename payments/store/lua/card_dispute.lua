-- A card payment is disputed (a chargeback): the disputed amount is taken from
-- the prepaid balance at once, even below zero (the one debit that may: the
-- money has left the service's account; the balance then shows what is owed),
-- and the account gets a 'dispute' freeze that only an operator lifts; once per
-- dispute, all in one step.
-- KEYS[1] prepaid balance, KEYS[2] ledger stream, KEYS[3] idempotency hash,
-- KEYS[4] card payments hash, KEYS[5] disputes hash, KEYS[6] freezes hash,
-- KEYS[7] account hash
-- ARGV: dispute id, payment intent, amount, reason, at, actor, freeze record, unix
-- Returns {1, prepaid after} taken, {0, prepaid} done before
--! include card_payments
local ref = 'dispute:' .. ARGV[1]
if redis.call('HGET', KEYS[3], ref) then
  return {0, tonumber(redis.call('GET', KEYS[1]) or '0')}
end
local amount = tonumber(ARGV[3])
book(KEYS[1], KEYS[2], KEYS[3], -amount, 'dispute', ARGV[4], ref, ARGV[5], ARGV[6])
local p = read_payment(KEYS[4], ARGV[2])
if p then
  p.disputed = math.min(p.disputed + amount, p.amount - p.refunded)
  write_payment(KEYS[4], ARGV[2], p)
end
redis.call('HSET', KEYS[5], ARGV[1], table.concat({ARGV[2], ARGV[3], 'open', ARGV[8]}, '|'))
if redis.call('HGET', KEYS[7], 'status') == 'active' then
  redis.call('HSETNX', KEYS[6], 'dispute', ARGV[7])
end
return {1, tonumber(redis.call('GET', KEYS[1]))}
