-- Settle one account's usage, once per slot (the chore runs four times a
-- day): the usage counted since the last settlement is marked settled in
-- its month's counters (usage within the allowance moves no money and no
-- credits: it is not written to the ledger), then the credits drawn (own use
-- and each leaf's) are taken from grants earliest expiry first. What was taken
-- is added up in the slot month's counters (`drawn:R`, `drawn_leaves:R`,
-- `drawn:R:GRANT`, and `pack:GRANT` = "EXPIRES|PACK|DAY") and written to the
-- ledger once the month is over: one zero-amount 'credits_used' entry per
-- resource and month (dated the month's last second, ref credits:YYYYMM:R,
-- `grant` "ID:QUANTITY,..." earliest expiry first), by the first settlement of
-- a later month; the month stays open (in KEYS[2]) until then, and keeps only
-- its totals (`used:R`, `credit:R`) once it is written. What no grant
-- covers (a race between authorize and usage) is not charged and not written.
-- Credits are not money: the balances do not change; the entries carry
-- `resource` and `quantity`.
-- KEYS[1] slot marker, KEYS[2] open months set, KEYS[3] pending draws hash,
-- KEYS[4] grants hash, KEYS[5] ledger stream, KEYS[6] prepaid balance (read only),
-- KEYS[7..] the usage hashes of the months named at the end of ARGV (the slot's
-- month among them)
-- ARGV[1] slot (Unix time of its start), ARGV[2] cutoff (grants valid after it pay),
-- ARGV[3] at, ARGV[4] actor, ARGV[5] the slot's month (YYYYMM), ARGV[6] time to live
-- of its usage hash, ARGV[7] n, then n resources, then the months (YYYYMM)
-- Returns {1 settled | 0 this slot was settled already, entries written,
-- earliest expiry of a grant with credits left or -1}
--! include dates
local slot = ARGV[1]
if redis.call('GET', KEYS[1]) == slot then
  return {0, 0, -1}
end
local cutoff, this_month = tonumber(ARGV[2]), ARGV[5]
local n = tonumber(ARGV[7])
local resources = {}
for i = 8, 7 + n do table.insert(resources, ARGV[i]) end
local months = {}  -- {month, its usage hash}, as given
local this_key
for m = 8 + n, #ARGV do
  table.insert(months, {ARGV[m], KEYS[7 + m - (8 + n)]})
  if ARGV[m] == this_month then this_key = KEYS[7 + m - (8 + n)] end
end
local after = redis.call('GET', KEYS[6]) or '0'
local written = 0

local function num(key, field)
  return tonumber(redis.call('HGET', key, field) or '0')
end

-- 1. Usage counted since the last settlement: marked settled, per month and resource
-- (a month that is over keeps only its totals: see step 3).
for _, month in ipairs(months) do
  local key = month[2]
  for _, r in ipairs(resources) do
    local used, done = num(key, 'used:' .. r), num(key, 'settled:' .. r)
    if used > done then
      redis.call('HSET', key, 'settled:' .. r, used)
    end
  end
end

-- 2. Credits drawn: from grants valid after the cutoff, earliest expiry first, added up
-- in this month's counters.
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
local needs, names = {}, {}
for i = 1, #pending, 2 do
  needs[pending[i]] = tonumber(pending[i + 1])
  table.insert(names, pending[i])
end
table.sort(names)
local drew = false
for _, name in ipairs(names) do
  local need = needs[name]
  local r, member = string.match(name, '^([^|]*)|?(.*)$')
  for _, g in ipairs(grants) do
    if need <= 0 then break end
    if g.resource == r and g.left > 0 and g.expires > cutoff then
      local take = math.min(g.left, need)
      g.left, need = g.left - take, need - take
      redis.call('HINCRBY', this_key, 'drawn:' .. r, take)
      if member ~= '' then redis.call('HINCRBY', this_key, 'drawn_leaves:' .. r, take) end
      redis.call('HINCRBY', this_key, 'drawn:' .. r .. ':' .. g.id, take)
      redis.call('HSETNX', this_key, 'pack:' .. g.id,
        string.format('%d|%s|%s', g.expires, g.pack, g.day))
      drew = true
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
if drew then redis.call('EXPIRE', this_key, ARGV[6]) end

-- 3. The credits used in each month that is over: one entry per resource; the month
-- leaves the open set. This month stays open while credits were used in it.
local function month_end(month)  -- the month's last second, ISO 8601
  local y, m = tonumber(string.sub(month, 1, 4)), tonumber(string.sub(month, 5, 6))
  local next_y, next_m = (m == 12) and y + 1 or y, (m % 12) + 1
  return iso_instant(days_from_civil(next_y, next_m, 1) * 86400 - 1)
end

local function write_used(month, key)
  local fields = redis.call('HGETALL', key)
  local values, drop = {}, {}
  for i = 1, #fields, 2 do
    if string.match(fields[i], '^drawn') or string.match(fields[i], '^pack:') then
      values[fields[i]] = fields[i + 1]
      table.insert(drop, fields[i])
    end
  end
  for _, r in ipairs(resources) do
    local total = tonumber(values['drawn:' .. r] or '0')
    if total > 0 then
      local used = {}
      for name, quantity in pairs(values) do
        local id = string.match(name, '^drawn:' .. r .. ':(.+)$')
        if id then
          local expires, pack, day = string.match(values['pack:' .. id] or '0||', '^(%d*)|([^|]*)|(.*)$')
          table.insert(used, {id = id, quantity = quantity, expires = tonumber(expires) or 0,
            label = string.format('pack %s, valid until %s', pack, day)})
        end
      end
      table.sort(used, function(a, b)
        if a.expires ~= b.expires then return a.expires < b.expires end
        return a.id < b.id
      end)
      local parts, labels = {}, {}
      for _, g in ipairs(used) do
        table.insert(parts, g.id .. ':' .. g.quantity)
        table.insert(labels, g.label)
      end
      local leaves = tonumber(values['drawn_leaves:' .. r] or '0')
      local by = leaves > 0 and string.format(', %d by the accounts you pay for', leaves) or ''
      redis.call('XADD', KEYS[5], '*', 'amount', '0', 'balance', 'prepaid', 'after', after,
        'kind', 'credits_used',
        'reason', string.format('%d %s credits used in %s-%s%s (%s)', total, r,
          string.sub(month, 1, 4), string.sub(month, 5, 6), by, table.concat(labels, '; ')),
        'ref', 'credits:' .. month .. ':' .. r, 'at', month_end(month), 'actor', ARGV[4],
        'resource', r, 'quantity', string.format('%d', total), 'grant', table.concat(parts, ','))
      written = written + 1
    end
  end
  for _, r in ipairs(resources) do table.insert(drop, 'settled:' .. r) end
  redis.call('HDEL', key, unpack(drop))
end

local function used_credits(key)
  for _, r in ipairs(resources) do
    if redis.call('HEXISTS', key, 'drawn:' .. r) == 1 then return true end
  end
  return false
end

for _, month in ipairs(months) do
  local name, key = month[1], month[2]
  if name < this_month then
    write_used(name, key)
    redis.call('SREM', KEYS[2], name)
  elseif used_credits(key) then
    redis.call('SADD', KEYS[2], name)
  else
    redis.call('SREM', KEYS[2], name)
  end
end

redis.call('SET', KEYS[1], slot)
local earliest = -1
for _, g in ipairs(grants) do
  if g.left > 0 and (earliest < 0 or g.expires < earliest) then earliest = g.expires end
end
return {1, written, earliest}
