-- Add a leaf to its group's list (the main first), once. One key: the list.
-- KEYS[1] payment-leaf_jids-{INDEX}
-- ARGV: main, leaf
-- Returns 1 added, 0 listed already, -1 the list names another main
local members = redis.call('LRANGE', KEYS[1], 0, -1)
if #members == 0 then
  redis.call('RPUSH', KEYS[1], ARGV[1])
elseif members[1] ~= ARGV[1] then
  return -1
end
for i = 2, #members do
  if members[i] == ARGV[2] then
    return 0
  end
end
redis.call('RPUSH', KEYS[1], ARGV[2])
return 1
