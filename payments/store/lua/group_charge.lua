-- Charge a main for a leaf joining its group, all or nothing, once per ref:
-- voucher balance first, then prepaid, each part with its ledger entry; the
-- leaf is added to the main's set of joins not finished yet (same slot), so
-- the main's next group command completes a join a crash cut short.
-- KEYS[1] voucher balance, KEYS[2] prepaid balance, KEYS[3] ledger stream,
-- KEYS[4] idempotency hash, KEYS[5] the main's unfinished joins (set), KEYS[6] main's account
-- ARGV: amount (units >= 0), ref, reason, at, actor, leaf, currency of the amount (the
-- main's: checked), the default currency
-- Returns {1, from voucher, from prepaid, voucher + prepaid after} charged now,
-- {0, 0, 0, balance} charged before (the ref is known), {-1, missing, 0, balance} refused,
-- {-2, 0, 0, 0} the amount is not in the main's currency
local amount, ref = tonumber(ARGV[1]), ARGV[2]
local voucher = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), 0)
local prepaid = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'), 0)
if redis.call('HEXISTS', KEYS[4], ref) == 1 then
  return {0, 0, 0, voucher + prepaid}
end
if (redis.call('HGET', KEYS[6], 'currency') or ARGV[8]) ~= ARGV[7] then
  return {-2, 0, 0, 0}
end
if voucher + prepaid < amount then
  return {-1, amount - voucher - prepaid, 0, voucher + prepaid}
end
local function take(key, name, want)
  if want <= 0 then return 0 end
  local after = redis.call('DECRBY', key, want)
  local entry_ref = ref .. ':' .. name
  local id = redis.call('XADD', KEYS[3], '*',
    'amount', string.format('-%d', want), 'balance', name, 'after', string.format('%d', after),
    'kind', 'charge', 'reason', ARGV[3], 'ref', entry_ref, 'at', ARGV[4], 'actor', ARGV[5],
    'resource', '', 'quantity', '', 'grant', '')
  redis.call('HSET', KEYS[4], entry_ref, id)
  return want
end
local from_voucher = take(KEYS[1], 'voucher', math.min(voucher, amount))
local from_prepaid = take(KEYS[2], 'prepaid', amount - from_voucher)
redis.call('HSET', KEYS[4], ref, 'join:' .. ARGV[6])
redis.call('SADD', KEYS[5], ARGV[6])
return {1, from_voucher, from_prepaid, voucher + prepaid - amount}
