-- Settle one account's usage, once per slot (the chore runs four times a
-- day): the usage counted since the last settlement is marked settled in
-- its month's counters (usage within the allowance moves no money and no
-- credits: it is not written to the ledger), then the credits drawn (own use
-- and each leaf's) are taken from grants earliest expiry first, with one
-- zero-amount 'credits_used' entry per resource, rolled up over the grants
-- it touched (`grant`: "ID:QUANTITY,..."). What no grant covers (a race
-- between authorize and usage) is not charged and not written. Credits are
-- not money: the balances do not change; the entries carry `resource` and
-- `quantity`.
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

-- 1. Usage counted since the last settlement: marked settled, per month and resource.
for m = 6 + n, #ARGV do
  local key = KEYS[7 + m - (6 + n)]
  for _, r in ipairs(resources) do
    local used, done = num(key, 'used:' .. r), num(key, 'settled:' .. r)
    if used > done then
      redis.call('HSET', key, 'settled:' .. r, used, 'settled_credit:' .. r, num(key, 'credit:' .. r))
    end
  end
  redis.call('SREM', KEYS[2], ARGV[m])
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
local drawn = {}  -- resource -> {total, by leaves, {grant id -> taken}, order of grants}
for _, name in ipairs(names) do
  local need = fields[name]
  local r, member = string.match(name, '^([^|]*)|?(.*)$')
  local sum = drawn[r] or {total = 0, leaves = 0, taken = {}, order = {}}
  drawn[r] = sum
  for _, g in ipairs(grants) do
    if need <= 0 then break end
    if g.resource == r and g.left > 0 and g.expires > cutoff then
      local take = math.min(g.left, need)
      g.left, need = g.left - take, need - take
      sum.total = sum.total + take
      if member ~= '' then sum.leaves = sum.leaves + take end
      if not sum.taken[g.id] then table.insert(sum.order, g) end
      sum.taken[g.id] = (sum.taken[g.id] or 0) + take
      if g.left == 0 then
        redis.call('HDEL', KEYS[4], g.id)
      else
        redis.call('HSET', KEYS[4], g.id, table.concat({g.resource, g.quantity,
          string.format('%d', g.left), string.format('%d', g.expires), g.pack, g.day, g.rest}, '|'))
      end
    end
  end
  redis.call('HDEL', KEYS[3], name)
end
local kinds = {}
for r in pairs(drawn) do table.insert(kinds, r) end
table.sort(kinds)
for _, r in ipairs(kinds) do
  local sum = drawn[r]
  if sum.total > 0 then
    local parts, packs = {}, {}
    for _, g in ipairs(sum.order) do
      table.insert(parts, g.id .. ':' .. string.format('%d', sum.taken[g.id]))
      table.insert(packs, string.format('pack %s, valid until %s', g.pack, g.day))
    end
    local by = sum.leaves > 0 and string.format(', %d by the accounts you pay for', sum.leaves) or ''
    entry('credits_used',
      string.format('%d %s credits used%s (%s)', sum.total, r, by, table.concat(packs, '; ')),
      'credits:' .. slot .. ':' .. r, r, sum.total, table.concat(parts, ','))
  end
end

redis.call('SET', KEYS[1], slot)
local earliest = -1
for _, g in ipairs(grants) do
  if g.left > 0 and (earliest < 0 or g.expires < earliest) then earliest = g.expires end
end
return {1, written, earliest}
