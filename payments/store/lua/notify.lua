-- Queue a notice on the outbox, once per key: the marker and the entry are
-- written together (a crash can no longer leave a marker without its notice).
-- The marker shares the stream's hash slot ({bot-outbox} in its name).
-- KEYS[1] the marker (the stream itself for a notice without a key), KEYS[2] the stream
-- ARGV: the marker's time to live (seconds), then the entry's field/value pairs
-- Returns 1 queued, 0 queued before (the marker is there)
if KEYS[1] ~= KEYS[2] then
  if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
    return 0
  end
end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
return 1
