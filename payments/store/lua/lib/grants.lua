-- Shared by the renewal and the settlement of an invoice: the credits of a
-- recurring pack are granted once the invoice line that buys them is paid.
-- The renewal writes each as a `grant:ID` field of the invoice (the grant
-- record, see payments/usage/credits.py); `grant_pending` moves them to the
-- account's grants with a zero-amount 'credits' ledger entry, once per ref.

-- Days since 1970-01-01 -> 'YYYY-MM-DD' (proleptic Gregorian; no os.date in Redis).
local function civil_day(days)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  return string.format('%04d-%02d-%02d', y, m, d)
end

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
