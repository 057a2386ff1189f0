-- Shared by the scripts that refund and dispute card payments: a payment's
-- record 'AMOUNT|REFUNDED|DISPUTED|EPOCH_MS|CARD|REF' (payments/cards/records.py).

local function read_payment(payments, id)
  local text = redis.call('HGET', payments, id)
  if not text then return nil end
  local amount, refunded, disputed, rest = string.match(text, '^(%d+)|(%d+)|(%d+)|(.*)$')
  return {amount = tonumber(amount), refunded = tonumber(refunded),
    disputed = tonumber(disputed), rest = rest}
end

local function write_payment(payments, id, p)
  redis.call('HSET', payments, id, string.format('%d|%d|%d|%s',
    p.amount, p.refunded, p.disputed, p.rest))
end

-- One ledger entry on the prepaid balance (signed amount), its ref recorded once.
local function book(prepaid, ledger, idempotency, amount, kind, reason, ref, at, actor)
  local after = redis.call('INCRBY', prepaid, amount)
  local id = redis.call('XADD', ledger, '*',
    'amount', string.format('%d', amount), 'balance', 'prepaid',
    'after', string.format('%d', after), 'kind', kind, 'reason', reason, 'ref', ref,
    'at', at, 'actor', actor, 'resource', '', 'quantity', '', 'grant', '')
  redis.call('HSET', idempotency, ref, id)
  return id
end
