-- A leaf whose main moved is paid for by the main's new JID: its plan snapshot's
-- paid_by, and a billing freeze set with its main, name the new JID; once.
-- KEYS[1] the leaf's account hash, KEYS[2] its current plan_as_of hash, KEYS[3] its freezes
-- ARGV: old main, new main, the plan_as_of month as read
-- Returns 1 done (or nothing to do), 0 changed since read (read again)
if redis.call('HGET', KEYS[1], 'plan_as_of') ~= ARGV[3] then
  return 0
end
if redis.call('HGET', KEYS[2], 'paid_by') == ARGV[1] then
  redis.call('HSET', KEYS[2], 'paid_by', ARGV[2])
end
local record = redis.call('HGET', KEYS[3], 'billing')
if record then
  local ok, data = pcall(cjson.decode, record)
  if ok and type(data.state) == 'table' and data.state.frozen_with == ARGV[1] then
    data.state.frozen_with = ARGV[2]
    redis.call('HSET', KEYS[3], 'billing', cjson.encode(data))
  end
end
return 1
