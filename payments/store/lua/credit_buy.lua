-- Buy a credit pack from the balances, voucher first then prepaid, and grant
-- its credits, atomically, once per ref. All or nothing: a balance that does
-- not cover the price buys nothing.
-- KEYS[1] voucher balance, KEYS[2] prepaid balance, KEYS[3] ledger stream,
-- KEYS[4] idempotency hash, KEYS[5] grants hash, KEYS[6] account hash, KEYS[7] freezes hash
-- ARGV: ref, grant id, grant record, price (units >= 0), at, actor, reason, resource, quantity,
-- currency of the price, the default currency
-- Returns {status, from voucher, from prepaid, balance after (or what is missing)}:
-- 1 bought, 0 this ref bought before, -1 not enough (missing), -2 no active account,
-- -3 frozen, -4 a leaf (its main buys), -5 the price is not in the account's currency
local function total()
  return tonumber(redis.call('GET', KEYS[1]) or '0') + tonumber(redis.call('GET', KEYS[2]) or '0')
end
if redis.call('HGET', KEYS[4], ARGV[1]) then
  return {0, 0, 0, total()}
end
if redis.call('HGET', KEYS[6], 'status') ~= 'active' then
  return {-2, 0, 0, 0}
end
if redis.call('HGET', KEYS[6], 'kind') == 'leaf' then
  return {-4, 0, 0, 0}
end
if redis.call('EXISTS', KEYS[7]) == 1 then
  return {-3, 0, 0, 0}
end
if (redis.call('HGET', KEYS[6], 'currency') or ARGV[11]) ~= ARGV[10] then
  return {-5, 0, 0, 0}
end
local price = tonumber(ARGV[4])
local voucher = tonumber(redis.call('GET', KEYS[1]) or '0')
local prepaid = tonumber(redis.call('GET', KEYS[2]) or '0')
if voucher + prepaid < price then
  return {-1, 0, 0, price - voucher - prepaid}
end

local function entry(amount, balance, after, kind, ref)
  redis.call('XADD', KEYS[3], '*', 'amount', amount, 'balance', balance, 'after', after,
    'kind', kind, 'reason', ARGV[7], 'ref', ref, 'at', ARGV[5], 'actor', ARGV[6],
    'resource', ARGV[8], 'quantity', ARGV[9], 'grant', ARGV[2])
end

local function take(key, name, want)
  if want <= 0 then return 0 end
  local after = redis.call('DECRBY', key, want)
  entry(string.format('-%d', want), name, string.format('%d', after), 'charge',
    ARGV[1] .. ':' .. name)
  return want
end

local from_voucher = take(KEYS[1], 'voucher', math.min(voucher, price))
local from_prepaid = take(KEYS[2], 'prepaid', price - from_voucher)
if price == 0 then
  entry('0', 'prepaid', string.format('%d', prepaid), 'credits', ARGV[1])
end
redis.call('HSET', KEYS[5], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[4], ARGV[1], 'grant:' .. ARGV[2])
return {1, from_voucher, from_prepaid, total()}
