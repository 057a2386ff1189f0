-- One account's standing for one resource, in one call: what authorize needs, and
-- what counting a batch reads first (resource '': no credits). Read only, every
-- key the account's (one hash slot). The grants and draws returned are those of
-- the resource asked about only (a grant is 'RESOURCE|...', a draw 'RESOURCE' or
-- 'RESOURCE|LEAF'). A leaf's credits are its main's, in another slot: read apart.
-- KEYS[1] account hash, KEYS[2] freezes hash, KEYS[3] group index string,
-- KEYS[4] usage hash of this month, KEYS[5] credit grants hash, KEYS[6] pending draws hash
-- ARGV[1] resource, ARGV[2..3] the plan_as_of key before its month, after it
-- Returns {} for a JID that is not a user, else {kind, status, plan_as_of, currency,
-- frozen (1|0), group index, used this month, grant pairs, draw pairs,
-- {plan, version, kind, paid_by} of the snapshot in force}
local kind, status, month, currency = unpack(
  redis.call('HMGET', KEYS[1], 'kind', 'status', 'plan_as_of', 'currency'))
if not status then
  return {}
end
local resource = ARGV[1]
local function of_resource(pairs, exact)
  local found = {}
  for i = 1, #pairs, 2 do
    local name = exact and pairs[i] or pairs[i + 1]
    if name == resource or string.sub(name, 1, #resource + 1) == resource .. '|' then
      table.insert(found, pairs[i])
      table.insert(found, pairs[i + 1])
    end
  end
  return found
end
local snapshot = {}
if month then
  snapshot = redis.call('HMGET', ARGV[2] .. month .. ARGV[3], 'plan', 'version', 'kind', 'paid_by')
end
return {kind or '', status, month or '', currency or '', redis.call('EXISTS', KEYS[2]),
  redis.call('GET', KEYS[3]) or '', redis.call('HGET', KEYS[4], 'used:' .. resource) or '0',
  of_resource(redis.call('HGETALL', KEYS[5]), false),
  of_resource(redis.call('HGETALL', KEYS[6]), true), snapshot}
