-- Record a join or a leave in flight on the leaf's side, before anything
-- else changes: a re-run (or the next touch of the account) reads it and
-- completes the same move, at the same price, under the same idempotency key.
-- KEYS[1] move hash, KEYS[2] leaf's group index, KEYS[3] account hash,
-- KEYS[4] prepaid balance, KEYS[5] voucher balance
-- ARGV[1] op (join|leave), ARGV[2] main, ARGV[3] group index, ARGV[4] '1' when a
-- JID without an account may join (a referral sign-up), ARGV[5..] field, value, ...
-- Returns 1 recorded, 0 this same move was in flight already (go on), 2 a join that
-- is complete already, -1 another move is in flight, -2 not allowed now
local op, main, index = ARGV[1], ARGV[2], ARGV[3]
local current = redis.call('HMGET', KEYS[1], 'op', 'main', 'index')
if current[1] then
  if current[1] == op and current[2] == main and current[3] == index then
    return 0
  end
  return -1
end
local group = redis.call('GET', KEYS[2])
if op == 'join' then
  if group then
    if group == index and redis.call('HGET', KEYS[3], 'kind') == 'leaf' then
      return 2
    end
    return -2
  end
  local kind = redis.call('HGET', KEYS[3], 'kind')
  if not kind then
    if ARGV[4] ~= '1' then return -2 end
  elseif kind ~= 'trial' or redis.call('HGET', KEYS[3], 'status') ~= 'active' then
    return -2
  end
  if tonumber(redis.call('GET', KEYS[4]) or '0') ~= 0 or tonumber(redis.call('GET', KEYS[5]) or '0') ~= 0 then
    return -2
  end
else
  if group ~= index then
    return -2
  end
end
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
return 1
