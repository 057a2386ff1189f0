-- Give a main back what it was charged for a join that could not complete
-- (the leaf changed meanwhile): each part to the balance it came from, and
-- the charge's ref is forgotten, so the main is as if never charged (a later
-- join in the same period charges again). A replay finds no ref: nothing.
-- KEYS[1] voucher balance, KEYS[2] prepaid balance, KEYS[3] ledger stream,
-- KEYS[4] idempotency hash, KEYS[5] the main's unfinished joins (set), KEYS[6] main's account
-- ARGV: ref of the charge, reason, at, actor, leaf
-- Returns the units given back
local ref = ARGV[1]
redis.call('SREM', KEYS[5], ARGV[5])
if redis.call('HEXISTS', KEYS[4], ref) == 0 then
  return 0
end
local total = 0
for i, name in ipairs({'voucher', 'prepaid'}) do
  local id = redis.call('HGET', KEYS[4], ref .. ':' .. name)
  local entry = id and redis.call('XRANGE', KEYS[3], id, id)[1]
  if entry then
    local amount = 0
    for j = 1, #entry[2], 2 do
      if entry[2][j] == 'amount' then amount = -tonumber(entry[2][j + 1]) end
    end
    if amount > 0 then
      local after = redis.call('INCRBY', KEYS[i], amount)
      local refund = 'refund:' .. id
      local rid = redis.call('XADD', KEYS[3], '*',
        'amount', string.format('%d', amount), 'balance', name, 'after', string.format('%d', after),
        'kind', 'credit', 'reason', ARGV[2], 'ref', refund, 'at', ARGV[3], 'actor', ARGV[4],
        'resource', '', 'quantity', '', 'grant', '')
      redis.call('HSET', KEYS[4], refund, rid)
      total = total + amount
    end
  end
  redis.call('HDEL', KEYS[4], ref .. ':' .. name)
end
redis.call('HDEL', KEYS[4], ref)
return total
