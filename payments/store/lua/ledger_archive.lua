-- Move the oldest entries of one ledger to the archive (the caller wrote them to the
-- archive's files and read them back first): they leave the stream, and one 'archived'
-- entry per balance brings their sum forward, so the stream still sums to the balances.
-- Applied only if the stream still starts with exactly those entries and they sum to
-- what the caller archived. The refs the caller passes (its payments' and vouchers':
-- payments/ledger/store.py ARCHIVED_REF_KINDS) leave the hash for the set of
-- archived refs' digests (a replay is still refused: credit.lua, debit.lua, card_credit.lua).
-- KEYS[1] ledger stream, KEYS[2] idempotency hash, KEYS[3] archived refs' digests,
-- KEYS[4] prepaid balance, KEYS[5] voucher balance
-- ARGV[1] first entry id, ARGV[2] last entry id, ARGV[3] how many, ARGV[4] their prepaid
-- sum, ARGV[5] their voucher sum, ARGV[6] at, ARGV[7] actor, ARGV[8] the month they are
-- all before (YYYYMM), ARGV[9] the account's currency (the 'archived' entry's `currency`:
-- the unit of the sum it brings forward), then pairs (a ref of theirs or its base
-- without :voucher/:prepaid, its digest: payments.ledger.records.ref_key)
-- Returns {1, entries archived, refs moved}, or {0, why} when the stream is not as read
local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if #head == 0 or head[1][1] ~= ARGV[1] then
  return {0, 'the stream does not start there'}
end
local entries = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[2])
if #entries ~= tonumber(ARGV[3]) or entries[#entries][1] ~= ARGV[2] then
  return {0, 'not the entries read'}
end
local sums, counts = {prepaid = 0, voucher = 0}, {prepaid = 0, voucher = 0}
for _, entry in ipairs(entries) do
  local f = {}
  for i = 1, #entry[2], 2 do f[entry[2][i]] = entry[2][i + 1] end
  sums[f.balance] = sums[f.balance] + tonumber(f.amount)
  counts[f.balance] = counts[f.balance] + 1
end
if sums.prepaid ~= tonumber(ARGV[4]) or sums.voucher ~= tonumber(ARGV[5]) then
  return {0, 'the sums differ from the archived ones'}
end
local moved = 0
for i = 10, #ARGV, 2 do
  if redis.call('HDEL', KEYS[2], ARGV[i]) == 1 then
    redis.call('SADD', KEYS[3], ARGV[i + 1])
    moved = moved + 1
  end
end
local ms, seq = string.match(ARGV[2], '^(%d+)-(%d+)$')
redis.call('XTRIM', KEYS[1], 'MINID', ms .. '-' .. string.format('%d', tonumber(seq) + 1))
local label = string.sub(ARGV[8], 1, 4) .. '-' .. string.sub(ARGV[8], 5, 6)
for _, name in ipairs({'prepaid', 'voucher'}) do
  if counts[name] > 0 then
    local balance = name == 'prepaid' and KEYS[4] or KEYS[5]
    redis.call('XADD', KEYS[1], '*', 'amount', string.format('%d', sums[name]),
      'balance', name, 'after', redis.call('GET', balance) or '0', 'kind', 'archived',
      'reason', string.format('%d entries before %s archived (%s to %s): their sum, brought forward',
        counts[name], label, ARGV[1], ARGV[2]),
      'ref', 'archive:' .. ARGV[2] .. ':' .. name, 'at', ARGV[6], 'actor', ARGV[7],
      'resource', '', 'quantity', string.format('%d', counts[name]), 'grant', '',
      'currency', ARGV[9])
  end
end
return {1, #entries, moved}
