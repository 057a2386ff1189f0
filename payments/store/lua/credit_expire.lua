-- Remove the grants of one account that have expired, writing what was left
-- of each to the ledger as a zero-amount 'expired' entry (credits are not
-- money: no balance changes). A grant that could still pay for credits drawn
-- and not yet settled (it expired after the cutoff) waits for the settlement.
-- KEYS[1] grants hash, KEYS[2] pending draws hash, KEYS[3] ledger stream,
-- KEYS[4] prepaid balance (read only)
-- ARGV: now (Unix time), cutoff (Unix time), at, actor
-- Returns {{grant id, resource, credits expired} ..., earliest expiry left or -1}
local now, cutoff = tonumber(ARGV[1]), tonumber(ARGV[2])
local pending = {}
local raw = redis.call('HGETALL', KEYS[2])
for i = 1, #raw, 2 do
  local r = string.match(raw[i], '^([^|]*)')
  pending[r] = (pending[r] or 0) + tonumber(raw[i + 1])
end
local expired, earliest = {}, -1
local grants = redis.call('HGETALL', KEYS[1])
local after = redis.call('GET', KEYS[4]) or '0'
for i = 1, #grants, 2 do
  local id = grants[i]
  local r, left, expires, pack, day =
    string.match(grants[i + 1], '^([^|]*)|%d+|(%d+)|(%d+)|([^|]*)|([^|]*)|')
  left, expires = tonumber(left), tonumber(expires)
  local waits = (pending[r] or 0) > 0 and expires > cutoff
  if expires <= now and not waits then
    if left > 0 then
      redis.call('XADD', KEYS[3], '*', 'amount', '0', 'balance', 'prepaid', 'after', after,
        'kind', 'expired', 'reason',
        string.format('%d %s credits expired unused (pack %s, valid until %s)', left, r, pack, day),
        'ref', 'expired:' .. id, 'at', ARGV[3], 'actor', ARGV[4],
        'resource', r, 'quantity', string.format('%d', left), 'grant', id)
    end
    redis.call('HDEL', KEYS[1], id)
    table.insert(expired, {id, r, left})
  elseif left > 0 and (earliest < 0 or expires < earliest) then
    earliest = expires
  end
end
return {expired, earliest}
