-- Shared by the scripts that take money: one balance change and its ledger
-- entry, written together (a script includes this file with `--! include books`).
-- Every ledger entry carries the same eleven fields in the same order (those of
-- metering, `resource`, `quantity`, `grant`, empty on money entries): a stream
-- node then keeps the field names once for all its entries (keys.md).

-- Take up to `want` units from one balance (never below zero), with a
-- 'charge' ledger entry whose ref is `ref:NAME`; returns what was taken. With
-- an idempotency hash, the ref is recorded there too (a change whose own state
-- makes it happen once, a renewal's date or an invoice's due, passes nil: the
-- hash holds only what needs it, the ids that come from outside). `held`, when
-- given, is the balance as the caller read it in this script (one GET fewer).
local function take(balance, ledger, idempotency, name, want, ref, reason, at, actor, held)
  if want <= 0 then return 0 end
  held = held or tonumber(redis.call('GET', balance) or '0')
  local got = math.min(math.max(held, 0), want)
  if got <= 0 then return 0 end
  local after = redis.call('DECRBY', balance, got)
  local entry_ref = ref .. ':' .. name
  local id = redis.call('XADD', ledger, '*',
    'amount', string.format('-%d', got), 'balance', name, 'after', string.format('%d', after),
    'kind', 'charge', 'reason', reason, 'ref', entry_ref, 'at', at, 'actor', actor,
    'resource', '', 'quantity', '', 'grant', '')
  if idempotency then
    redis.call('HSET', idempotency, entry_ref, id)
  end
  return got
end
