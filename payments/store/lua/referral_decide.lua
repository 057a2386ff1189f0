-- Decide a newcomer's reward, once: 'reward' adds one month of the referrer's
-- plan to its voucher balance with the ledger entry (kind referral, ref
-- referral:NEWCOMER, kept in the idempotency hash) in the same step; 'withhold'
-- records that the newcomer's first payment was taken back. Only a newcomer
-- still signed up (not rewarded nor withheld) is decided.
-- KEYS[1] referrals hash, KEYS[2] voucher balance, KEYS[3] ledger, KEYS[4] idempotency,
-- KEYS[5] the referrer's account hash
-- ARGV: 'reward' or 'withhold', newcomer, at, actor, amount (units), its currency, the
-- default currency, reason (reward) or why (withhold)
-- Returns {1, voucher balance after} rewarded now, {2, 0} withheld now, {0, 0} decided
-- before, {-1, 0} never signed up, {-2, 0} the amount is not in the referrer's currency
local field = 'new:' .. ARGV[2]
local state = redis.call('HGET', KEYS[1], field)
if not state then
  return {-1, 0}
end
if string.sub(state, 1, 10) ~= 'signed_up|' then
  return {0, 0}
end
if ARGV[1] == 'withhold' then
  redis.call('HSET', KEYS[1], field, 'withheld|' .. ARGV[3] .. '|' .. ARGV[8])
  redis.call('HINCRBY', KEYS[1], 'withheld', 1)
  return {2, 0}
end
if (redis.call('HGET', KEYS[5], 'currency') or ARGV[7]) ~= ARGV[6] then
  return {-2, 0}
end
local ref = 'referral:' .. ARGV[2]
local after = redis.call('INCRBY', KEYS[2], ARGV[5])
local id = redis.call('XADD', KEYS[3], '*', 'amount', ARGV[5], 'balance', 'voucher',
  'after', after, 'kind', 'referral', 'reason', ARGV[8], 'ref', ref, 'at', ARGV[3],
  'actor', ARGV[4], 'resource', '', 'quantity', '', 'grant', '')
redis.call('HSET', KEYS[4], ref, id)
redis.call('HSET', KEYS[1], field, 'rewarded|' .. ARGV[3] .. '|' .. ARGV[5])
redis.call('HINCRBY', KEYS[1], 'rewards', 1)
return {1, after}
