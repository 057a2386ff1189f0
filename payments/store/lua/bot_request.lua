-- One bot request in one round trip: count it against the sender's rate
-- limit (INCR + EXPIRE, as botstate.hit) and read what answering it needs:
-- the account, its freezes, both balances and the plan snapshot in force.
-- Read-only past the counter. Every key is the sender's (one hash slot).
-- KEYS[1] rate-limit counter, KEYS[2] account hash, KEYS[3] freezes hash,
-- KEYS[4] prepaid balance, KEYS[5] voucher balance
-- ARGV: counter expiry (seconds), plan_as_of key before its month, after it
-- Returns {count} for a JID that is not a user, else
-- {count, account pairs, freezes pairs, prepaid, voucher, snapshot pairs}
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
local account = redis.call('HGETALL', KEYS[2])
if #account == 0 then
  return {count}
end
local snapshot = {}
local month = redis.call('HGET', KEYS[2], 'plan_as_of')
if month then
  snapshot = redis.call('HGETALL', ARGV[2] .. month .. ARGV[3])
end
return {count, account, redis.call('HGETALL', KEYS[3]),
  redis.call('GET', KEYS[4]), redis.call('GET', KEYS[5]), snapshot}
