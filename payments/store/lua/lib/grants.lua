-- Shared by the renewal and the settlement of an invoice: the credits of a
-- recurring pack are granted once the invoice line that buys them is paid.
-- The renewal writes each as a `grant:ID` field of the invoice (the grant
-- record, see payments/usage/credits.py); `grant_pending` moves them to the
-- account's grants with a zero-amount 'credits' ledger entry, once per ref.
-- (A script including this file includes ``dates`` first.)

local function grant_pending(invoice, grants, ledger, idempotency, prepaid, period, at, actor)
  local fields = redis.call('HGETALL', invoice)
  local granted = 0
  for i = 1, #fields, 2 do
    local id = string.match(fields[i], '^grant:(.*)$')
    if id then
      local r, quantity, _, _, pack, day = string.match(fields[i + 1],
        '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|')
      local ref = 'autobuy:' .. period .. ':' .. pack
      if redis.call('HSETNX', idempotency, ref, 'grant:' .. id) == 1 then
        redis.call('HSET', grants, id, fields[i + 1])
        redis.call('XADD', ledger, '*', 'amount', '0', 'balance', 'prepaid',
          'after', redis.call('GET', prepaid) or '0', 'kind', 'credits',
          'reason', string.format('pack %s renewed: %s %s, valid until %s', pack, quantity, r, day),
          'ref', ref, 'at', at, 'actor', actor, 'resource', r, 'quantity', quantity, 'grant', id)
        granted = granted + 1
      end
      redis.call('HDEL', invoice, fields[i])
    end
  end
  return granted
end
