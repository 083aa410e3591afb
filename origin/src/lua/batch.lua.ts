/**
 * The Lua the batch scripts share (ack, tick, claim, sweep), put in front of each one's body:
 *
 * eachBatch(countsAt, n, fn)            the layout of outbox.ts batchArgs: n counts from
 *                                       ARGV[countsAt], then the ids stream after stream;
 *                                       fn(i, first, last) with stream i's ids in ARGV[first..last]
 * inChunks(first, last, fn)             fn(s, e) over ARGV[first..last], 500 ids at a time:
 *                                       unpack() has a stack limit
 * confirmIds(stream, group, first, last) XACK + XDEL of ARGV[first..last]; returns how many entries
 *                                       were deleted. A stream without the group, or no stream, is
 *                                       skipped, not an error: nothing there is pending.
 */
export const BATCH_LUA = `
local function eachBatch(countsAt, n, fn)
  local at = countsAt + n
  for i = 1, n do
    local first = at
    at = at + tonumber(ARGV[countsAt + i - 1])
    fn(i, first, at - 1)
  end
end
local function inChunks(first, last, fn)
  for s = first, last, 500 do fn(s, math.min(last, s + 499)) end
end
local function confirmIds(stream, group, first, last)
  local deleted = 0
  inChunks(first, last, function(s, e)
    redis.pcall('XACK', stream, group, unpack(ARGV, s, e))
    local d = redis.pcall('XDEL', stream, unpack(ARGV, s, e))
    if type(d) == 'number' then deleted = deleted + d end
  end)
  return deleted
end
`;
