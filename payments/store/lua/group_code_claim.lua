-- Use an invitation or referral code, once per JID, within its uses. A code
-- is global (not an account's key): this script touches that one key; the
-- join is a separate sequence of steps.
-- KEYS[1] code hash
-- ARGV: jid, use (accept|decline|register), now (unix), now (ISO 8601)
-- Returns {status, main, kind}: 1 claimed now, 0 claimed by this JID before,
-- -1 unknown (or not for this JID or use), -2 expired, -3 used up, -4 revoked or declined
local c = redis.call('HMGET', KEYS[1], 'kind', 'main', 'invitee', 'expires_ts', 'uses', 'used', 'status')
local kind, main, invitee, expires, uses, used, status = c[1], c[2], c[3], c[4], c[5], c[6], c[7]
local jid, use = ARGV[1], ARGV[2]
if not kind then
  return {-1, '', ''}
end
if kind == 'add' and invitee ~= jid then
  return {-1, '', ''}
end
if (use == 'register' and kind ~= 'referral') or (use == 'decline' and kind ~= 'add') then
  return {-1, '', ''}
end
if status ~= 'open' then
  return {-4, '', ''}
end
if redis.call('HEXISTS', KEYS[1], 'by:' .. jid) == 1 then
  if use == 'decline' then
    return {-3, '', ''}
  end
  return {0, main, kind}
end
if tonumber(ARGV[3]) >= tonumber(expires) then
  return {-2, '', ''}
end
if tonumber(used) >= tonumber(uses) then
  return {-3, '', ''}
end
if use == 'decline' then
  redis.call('HSET', KEYS[1], 'status', 'declined', 'declined_at', ARGV[4])
  return {1, main, kind}
end
redis.call('HINCRBY', KEYS[1], 'used', 1)
redis.call('HSET', KEYS[1], 'by:' .. jid, ARGV[4])
return {1, main, kind}
