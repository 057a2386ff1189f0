-- Seal the old account of a move, in one step: what it is (its hash, freezes,
-- balances, plan snapshots, invoices, credits, autobuy, usage, group, choices,
-- referrals) is written as JSON into its move record, its balances are carried
-- out with their ledger entries (kind 'moved'), what moves is removed from it,
-- and it is closed, naming the JID it moved to. From here the move only goes on:
-- the new JID receives that snapshot (move_arrive.lua). Checked at commit: the
-- offer is this move's, and the account is as the caller read it (its invoice
-- periods, its plan snapshot among the months passed); nothing of a join, a
-- leave or a leaf's draw on its main is in flight.
-- KEYS[1] account, [2] freezes, [3] prepaid, [4] voucher, [5] ledger, [6] move record,
-- [7] invoices, [8] open invoices, [9] grants, [10] pending draws, [11] autobuy,
-- [12] transfers, [13] usage months open, [14] usage slot, [15] group index,
-- [16] group move, [17] group joins, [18] notify_off, [19] referrals,
-- then np plan_as_of keys, ni invoice keys, nu usage keys
-- ARGV: move id, new JID, at, actor, np, ni, nu, then the np months, the ni periods,
-- the nu months
-- Returns {1, snapshot} sealed now, {0, snapshot} sealed before, {2, ''} done before,
-- {-1, why} refused: 'no_account', 'not_claimed', 'busy' (a join, a leave or a draw in
-- flight: finish it first), 'changed' (read again)
local id, new, at, actor = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local np, ni, nu = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local record = redis.call('HMGET', KEYS[6], 'id', 'state', 'snapshot')
if record[1] == id and record[2] == 'sealed' then
  return {0, record[3]}
end
if record[1] == id and record[2] == 'done' then
  return {2, ''}
end
if record[1] ~= id or record[2] ~= 'claimed' then
  return {-1, 'not_claimed'}
end
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then
  return {-1, 'no_account'}
end
if redis.call('EXISTS', KEYS[16]) == 1 or redis.call('SCARD', KEYS[17]) > 0
    or redis.call('HLEN', KEYS[12]) > 0 then
  return {-1, 'busy'}
end

local function hash(key)
  local found, raw = {}, redis.call('HGETALL', key)
  for i = 1, #raw, 2 do found[raw[i]] = raw[i + 1] end
  return found
end
local months, periods, usage_months = {}, {}, {}
for i = 1, np do months[ARGV[7 + i]] = KEYS[19 + i] end
for i = 1, ni do periods[ARGV[7 + np + i]] = KEYS[19 + np + i] end
for i = 1, nu do usage_months[ARGV[7 + np + ni + i]] = KEYS[19 + np + ni + i] end
local listed = redis.call('ZRANGE', KEYS[7], 0, -1)
local plan_as_of = redis.call('HGET', KEYS[1], 'plan_as_of')
if #listed ~= ni or (plan_as_of and not months[plan_as_of]) then
  return {-1, 'changed'}
end
for _, period in ipairs(listed) do
  if not periods[period] then return {-1, 'changed'} end
end

local snap = {
  account = hash(KEYS[1]), freezes = hash(KEYS[2]),
  prepaid = redis.call('GET', KEYS[3]) or '0', voucher = redis.call('GET', KEYS[4]) or '0',
  had_ledger = redis.call('XLEN', KEYS[5]) > 0 and '1' or '0',
  plans = {}, invoices = {}, usage = {}, usage_ttl = {},
  invoice_periods = redis.call('ZRANGE', KEYS[7], 0, -1, 'WITHSCORES'),
  open_invoices = redis.call('ZRANGE', KEYS[8], 0, -1, 'WITHSCORES'),
  grants = hash(KEYS[9]), pending = hash(KEYS[10]), autobuy = hash(KEYS[11]),
  usage_open = redis.call('SMEMBERS', KEYS[13]), usage_slot = redis.call('GET', KEYS[14]) or '',
  group = redis.call('GET', KEYS[15]) or '', notify_off = redis.call('SMEMBERS', KEYS[18]),
  referrals = hash(KEYS[19]),
}
for month, key in pairs(months) do
  if redis.call('EXISTS', key) == 1 then snap.plans[month] = hash(key) end
end
for period, key in pairs(periods) do snap.invoices[period] = hash(key) end
for month, key in pairs(usage_months) do
  if redis.call('EXISTS', key) == 1 then
    snap.usage[month] = hash(key)
    snap.usage_ttl[month] = tostring(redis.call('PTTL', key))
  end
end
local json = cjson.encode(snap)

-- The balances leave with their ledger entries: the books of the old JID end at zero.
-- A debt too (a dispute may take prepaid below zero): it is carried like money, and
-- move_arrive.lua writes it on the new JID.
local reason = 'carried over to ' .. new .. ' (the account moved)'
for _, pair in ipairs({{KEYS[3], 'prepaid', snap.prepaid}, {KEYS[4], 'voucher', snap.voucher}}) do
  local units = tonumber(pair[3])
  if units ~= 0 then
    local after = redis.call('DECRBY', pair[1], units)
    redis.call('XADD', KEYS[5], '*', 'amount', string.format('%d', -units), 'balance', pair[2],
      'after', string.format('%d', after), 'kind', 'moved', 'reason', reason,
      'ref', 'move:' .. id .. ':out:' .. pair[2], 'at', at, 'actor', actor,
      'resource', '', 'quantity', '', 'grant', '')
  end
end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[13],
  KEYS[14], KEYS[15], KEYS[18], KEYS[19])
redis.call('HSET', KEYS[1], 'status', 'closed', 'closed_at', at, 'closed_why', 'moved to ' .. new,
  'moved_to', new, 'moved_at', at)
redis.call('HDEL', KEYS[1], 'number', 'next_renewal_at', 'next_renewal_ts', 'renewal_held',
  'next_plan', 'unpaid_since', 'trial_ends_at')
redis.call('HSET', KEYS[6], 'state', 'sealed', 'sealed_at', at, 'snapshot', json)
return {1, json}
