-- Settle one account's usage into its ledger, once per slot (the chore runs
-- four times a day): one zero-amount 'usage' entry per month and resource
-- used since the last settlement, then the credits drawn (own use and each
-- leaf's) taken from grants earliest expiry first, one zero-amount
-- 'credits_used' entry per grant touched; what no grant covers is written
-- as usage beyond the allowance and credits. Credits are not money: the
-- balances do not change, the entries carry `resource` and `quantity`.
-- KEYS[1] slot marker, KEYS[2] open months set, KEYS[3] pending draws hash,
-- KEYS[4] grants hash, KEYS[5] ledger stream, KEYS[6] prepaid balance (read only),
-- KEYS[7..] the usage hashes of the months named at the end of ARGV
-- ARGV[1] slot (Unix time of its start), ARGV[2] cutoff (grants valid after it pay),
-- ARGV[3] at, ARGV[4] actor, ARGV[5] n, then n resources, then the months (YYYYMM)
-- Returns {1 settled | 0 this slot was settled already, entries written,
-- earliest expiry of a grant with credits left or -1}
local slot = ARGV[1]
if redis.call('GET', KEYS[1]) == slot then
  return {0, 0, -1}
end
local cutoff = tonumber(ARGV[2])
local n = tonumber(ARGV[5])
local resources = {}
for i = 6, 5 + n do table.insert(resources, ARGV[i]) end
local after = redis.call('GET', KEYS[6]) or '0'
local written = 0

local function entry(kind, reason, ref, resource, quantity, grant)
  redis.call('XADD', KEYS[5], '*', 'amount', '0', 'balance', 'prepaid', 'after', after,
    'kind', kind, 'reason', reason, 'ref', ref, 'at', ARGV[3], 'actor', ARGV[4],
    'resource', resource, 'quantity', string.format('%d', quantity), 'grant', grant)
  written = written + 1
end

local function num(key, field)
  return tonumber(redis.call('HGET', key, field) or '0')
end

-- 1. Usage counted since the last settlement, per month and resource.
for m = 6 + n, #ARGV do
  local key, month = KEYS[7 + m - (6 + n)], ARGV[m]
  local label = string.sub(month, 1, 4) .. '-' .. string.sub(month, 5, 6)
  for _, r in ipairs(resources) do
    local used, done = num(key, 'used:' .. r), num(key, 'settled:' .. r)
    if used > done then
      local drawn = num(key, 'credit:' .. r)
      local beyond = drawn - num(key, 'settled_credit:' .. r)
      entry('usage',
        string.format('%s %s: %d used (%d within the allowance, %d beyond it)',
          r, label, used - done, used - done - beyond, beyond),
        'usage:' .. slot .. ':' .. month .. ':' .. r, r, used - done, '')
      redis.call('HSET', key, 'settled:' .. r, used, 'settled_credit:' .. r, drawn)
    end
  end
  redis.call('SREM', KEYS[2], month)
end

-- 2. Credits drawn: from grants valid after the cutoff, earliest expiry first.
local grants = {}
local raw = redis.call('HGETALL', KEYS[4])
for i = 1, #raw, 2 do
  local r, q, left, expires, pack, day, rest =
    string.match(raw[i + 1], '^([^|]*)|(%d+)|(%d+)|(%d+)|([^|]*)|([^|]*)|(.*)$')
  table.insert(grants, {id = raw[i], resource = r, quantity = q, left = tonumber(left),
    expires = tonumber(expires), pack = pack, day = day, rest = rest})
end
table.sort(grants, function(a, b)
  if a.expires ~= b.expires then return a.expires < b.expires end
  return a.id < b.id
end)
local pending = redis.call('HGETALL', KEYS[3])
local fields = {}
for i = 1, #pending, 2 do fields[pending[i]] = tonumber(pending[i + 1]) end
local names = {}
for name in pairs(fields) do table.insert(names, name) end
table.sort(names)
for _, name in ipairs(names) do
  local need = fields[name]
  local r, member = string.match(name, '^([^|]*)|?(.*)$')
  local who = member ~= '' and (' by ' .. member) or ''
  for _, g in ipairs(grants) do
    if need <= 0 then break end
    if g.resource == r and g.left > 0 and g.expires > cutoff then
      local take = math.min(g.left, need)
      g.left, need = g.left - take, need - take
      entry('credits_used',
        string.format('%d %s credits used%s (pack %s, valid until %s)', take, r, who, g.pack, g.day),
        'credits:' .. slot .. ':' .. name .. ':' .. g.id, r, take, g.id)
      if g.left == 0 then
        redis.call('HDEL', KEYS[4], g.id)
      else
        redis.call('HSET', KEYS[4], g.id, table.concat({g.resource, g.quantity,
          string.format('%d', g.left), string.format('%d', g.expires), g.pack, g.day, g.rest}, '|'))
      end
    end
  end
  if need > 0 then
    entry('usage', string.format('%d %s%s beyond the allowance and credits (not charged)',
      need, r, who), 'beyond:' .. slot .. ':' .. name, r, need, '')
  end
  redis.call('HDEL', KEYS[3], name)
end

redis.call('SET', KEYS[1], slot)
local earliest = -1
for _, g in ipairs(grants) do
  if g.left > 0 and (earliest < 0 or g.expires < earliest) then earliest = g.expires end
end
return {1, written, earliest}
