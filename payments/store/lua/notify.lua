-- Queue notices on the outbox, each once per key: a notice's marker and its entry
-- are written together (a crash can no longer leave a marker without its notice).
-- The markers share the stream's hash slot ({bot-outbox} in their names), so one
-- call queues a whole batch (the renew chore's page of notices).
-- KEYS[1..n] each notice's marker (the stream itself for a notice without a key),
-- KEYS[n+1] the stream
-- ARGV[1] the markers' time to live (seconds), then per notice: its number of
-- field/value pairs, then those pairs
-- Returns how many notices were queued (the others were queued before: their marker is there)
local stream = KEYS[#KEYS]
local queued, at = 0, 2
for i = 1, #KEYS - 1 do
  local count = tonumber(ARGV[at])
  if KEYS[i] == stream or redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('XADD', stream, '*', unpack(ARGV, at + 1, at + 2 * count))
    queued = queued + 1
  end
  at = at + 1 + 2 * count
end
return queued
