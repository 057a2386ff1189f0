-- A dispute is closed: won gives the disputed amount back to the prepaid balance
-- (a 'dispute' entry of the opposite sign), lost keeps it taken; once per
-- dispute. The 'dispute' freeze stays: only an operator lifts it.
-- KEYS[1] prepaid balance, KEYS[2] ledger stream, KEYS[3] idempotency hash,
-- KEYS[4] card payments hash, KEYS[5] disputes hash
-- ARGV: dispute id, won ('1'|'0'), reason, at, actor
-- Returns {1, status} closed now, {0, status} closed before, {-1, ''} not opened yet
--! include card_payments
local record = redis.call('HGET', KEYS[5], ARGV[1])
if not record then
  return {-1, ''}
end
local payment, amount, status, since = string.match(record, '^([^|]*)|(%d+)|(%a+)|(%d+)$')
if status ~= 'open' then
  return {0, status}
end
status = (ARGV[2] == '1') and 'won' or 'lost'
if status == 'won' then
  local units = tonumber(amount)
  local ref = 'dispute:' .. ARGV[1] .. ':won'
  book(KEYS[1], KEYS[2], KEYS[3], units, 'dispute', ARGV[3], ref, ARGV[4], ARGV[5])
  local p = read_payment(KEYS[4], payment)
  if p then
    p.disputed = math.max(p.disputed - units, 0)
    write_payment(KEYS[4], payment, p)
  end
end
redis.call('HSET', KEYS[5], ARGV[1], table.concat({payment, amount, status, since}, '|'))
return {1, status}
