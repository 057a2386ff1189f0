-- The new JID of a move receives the old account's snapshot, in one step: it
-- becomes that account (its fields, freezes, plan snapshots, invoices, open
-- invoices, credits, autobuy, group, choices, referrals; this and the last
-- twelve months of usage added to its own), and its ledger receives the
-- balances carried over, each with an entry naming the old JID (kind 'moved',
-- ref move:ID:in:BALANCE, kept in the idempotency hash) - one even when they
-- are zero, if the old ledger had any: the new ledger starts with it. The old
-- JID's own invoice line is the new JID's. Once: only a JID held for this move
-- (status 'moving', move_id) receives it.
-- KEYS[1] account, [2] freezes, [3] prepaid, [4] voucher, [5] ledger, [6] idempotency,
-- [7] invoices, [8] open invoices, [9] grants, [10] pending draws, [11] autobuy,
-- [12] usage months open, [13] usage slot, [14] group index, [15] notify_off,
-- [16] referrals, then np plan_as_of keys, ni invoice keys, nu usage keys
-- ARGV: move id, old JID, at, actor, snapshot (JSON), np, ni, nu, then the np months,
-- the ni periods, the nu months (of the keys, in their order)
-- Returns 1 arrived now, 0 arrived before, -1 not held for this move
local id, old, at, actor = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local f = redis.call('HMGET', KEYS[1], 'status', 'move_id')
if f[2] ~= id then
  return -1
end
if f[1] ~= 'moving' then
  return 0
end
local snap = cjson.decode(ARGV[5])
local np, ni, nu = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local me = string.match(KEYS[1], '{(.*)}$')

local function put(key, fields, skip)
  for name, value in pairs(fields) do
    if not (skip and skip[name]) then redis.call('HSET', key, name, value) end
  end
end
local function flat(list)  -- a JSON array; an empty one may come back as an object
  return type(list) == 'table' and list or {}
end

redis.call('DEL', KEYS[1])
-- (what an earlier closure of it wrote stays with the old JID's history)
put(KEYS[1], snap.account, {status = true, moved_from = true, moved_at = true,
  closed_at = true, closed_why = true, moved_to = true, referred_by = true,
  referral_code = true, referred_as = true})
-- A referred newcomer stays counted as the JID it registered with (payments/referrals/).
local counted = snap.account.referred_as or (snap.account.referred_by and old)
if counted then redis.call('HSET', KEYS[1], 'referred_as', counted) end
redis.call('HSET', KEYS[1], 'status', 'active', 'moved_from', old, 'move_id', id, 'moved_at', at)
put(KEYS[2], snap.freezes)

local reason = 'carried over from ' .. old .. ' (the account moved)'
local function carry(key, name, units, always)
  if units <= 0 and not always then return end
  local after = redis.call('INCRBY', key, units)
  local ref = 'move:' .. id .. ':in:' .. name
  local entry = redis.call('XADD', KEYS[5], '*', 'amount', string.format('%d', units),
    'balance', name, 'after', string.format('%d', after), 'kind', 'moved', 'reason', reason,
    'ref', ref, 'at', at, 'actor', actor, 'resource', '', 'quantity', '', 'grant', '')
  redis.call('HSET', KEYS[6], ref, entry)
end
carry(KEYS[3], 'prepaid', tonumber(snap.prepaid), snap.had_ledger == '1')
carry(KEYS[4], 'voucher', tonumber(snap.voucher), false)

for i = 1, np do
  local fields = snap.plans[ARGV[8 + i]]
  if fields then
    redis.call('DEL', KEYS[16 + i])
    put(KEYS[16 + i], fields)
  end
end
for i = 1, ni do
  local key, fields = KEYS[16 + np + i], snap.invoices[ARGV[8 + np + i]]
  redis.call('DEL', key)
  for name, value in pairs(fields) do
    if name == 'line:' .. old then name = 'line:' .. me end
    redis.call('HSET', key, name, value)
  end
end
local periods, open = flat(snap.invoice_periods), flat(snap.open_invoices)
for i = 1, #periods, 2 do redis.call('ZADD', KEYS[7], periods[i + 1], periods[i]) end
for i = 1, #open, 2 do redis.call('ZADD', KEYS[8], open[i + 1], open[i]) end
put(KEYS[9], snap.grants)
put(KEYS[10], snap.pending)
put(KEYS[11], snap.autobuy)
for i = 1, nu do
  local month = ARGV[8 + np + ni + i]
  local key, fields = KEYS[16 + np + ni + i], snap.usage[month]
  for name, value in pairs(fields) do
    if string.sub(name, 1, 8) == 'blocked:' or string.sub(name, 1, 5) == 'pack:' then
      redis.call('HSETNX', key, name, value)
    else
      redis.call('HINCRBY', key, name, value)
    end
  end
  local ttl = tonumber(snap.usage_ttl[month] or '-1')
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
end
for _, month in ipairs(flat(snap.usage_open)) do redis.call('SADD', KEYS[12], month) end
if snap.usage_slot ~= '' then
  local mine = tonumber(redis.call('GET', KEYS[13]) or '0')
  if tonumber(snap.usage_slot) > mine then redis.call('SET', KEYS[13], snap.usage_slot) end
end
if snap.group ~= '' then redis.call('SET', KEYS[14], snap.group) end
for _, choice in ipairs(flat(snap.notify_off)) do redis.call('SADD', KEYS[15], choice) end
put(KEYS[16], snap.referrals, {code = true})
return 1
