-- Remove a number's reverse index if it still points at that JID.
-- KEYS[1] payment-number_owner-{NUMBER}; ARGV: jid
-- Returns 1 removed, 0 it points elsewhere (or nowhere)
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
