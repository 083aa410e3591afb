import { luaScript } from "./run";

/**
 * Confirms outbox entries that reached Kafka, many at once: XACK (out of the relay group's
 * pending list) and XDEL (out of the stream), in one command for any number of streams and ids.
 *
 * KEYS[1..n]   outbox (or events) STREAMs
 * ARGV[1]      the relay's consumer group
 * ARGV[2..n+1] how many ids of each stream follow, in KEYS order
 * ARGV[n+2..]  the ids, stream after stream
 *
 * Returns the number of entries deleted. A stream without the group yet (the relay never read it)
 * or a key that is no stream is skipped, not an error: nothing there is pending.
 */
export const ackScript = luaScript(
  "outbox-ack",
  `
local group = ARGV[1]
local at = #KEYS + 2
local deleted = 0
for i, stream in ipairs(KEYS) do
  local n = tonumber(ARGV[i + 1])
  local first = at
  at = at + n
  -- unpack() has a stack limit: chunks of 500 ids.
  for s = first, at - 1, 500 do
    local e = math.min(at - 1, s + 499)
    redis.pcall('XACK', stream, group, unpack(ARGV, s, e))
    local d = redis.pcall('XDEL', stream, unpack(ARGV, s, e))
    if type(d) == 'number' then deleted = deleted + d end
  end
end
return deleted
`,
);
