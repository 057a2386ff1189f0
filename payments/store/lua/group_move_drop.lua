-- Forget a move in flight that will not complete (a join the main cannot pay
-- for, or one refused at the leaf's side): only that very move.
-- KEYS[1] move hash; ARGV: op, main, index
-- Returns 1 dropped, 0 no such move
local current = redis.call('HMGET', KEYS[1], 'op', 'main', 'index')
if current[1] == ARGV[1] and current[2] == ARGV[2] and current[3] == ARGV[3] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
