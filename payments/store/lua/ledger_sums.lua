-- Sum one ledger by balance, with the balances, atomically: `admin reconcile` and the
-- simulator compare them. A stream longer than ARGV[1] is not read here (it would hold
-- Redis up): the caller sums it a page at a time.
-- KEYS[1] ledger stream, KEYS[2] prepaid balance, KEYS[3] voucher balance
-- ARGV[1] the most entries summed in one call
-- Returns {prepaid, voucher, prepaid sum, voucher sum, entries}, sums '' when too long
local prepaid = redis.call('GET', KEYS[2]) or '0'
local voucher = redis.call('GET', KEYS[3]) or '0'
local length = redis.call('XLEN', KEYS[1])
if length > tonumber(ARGV[1]) then
  return {prepaid, voucher, '', '', length}
end
local sums = {prepaid = 0, voucher = 0}
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  local amount, balance
  for i = 1, #entry[2], 2 do
    if entry[2][i] == 'amount' then amount = entry[2][i + 1]
    elseif entry[2][i] == 'balance' then balance = entry[2][i + 1] end
  end
  sums[balance] = sums[balance] + tonumber(amount)
end
return {prepaid, voucher, string.format('%d', sums.prepaid), string.format('%d', sums.voucher), length}
