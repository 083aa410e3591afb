import { luaScript } from "./run";

/**
 * The relay's step while orders flow, once a second: the forwards' confirmations (XACK + XDEL)
 * and the read of every open outbox (XREADGROUP, not blocking inside a script) in one command,
 * where a confirmation flush and a read would be two.
 *
 * KEYS[1..a]     outbox STREAMs with confirmations
 * KEYS[a+1..]    STREAMs to read: the events stream, then every open outbox (each has the group)
 * ARGV[1]        group
 * ARGV[2]        consumer
 * ARGV[3]        count: most entries read per stream
 * ARGV[4]        a: how many of KEYS have confirmations
 * ARGV[5..a+4]   how many ids of each of those follow
 * ARGV[a+5..]    the ids, stream after stream
 *
 * Returns the XREADGROUP reply ({stream, {{id, {field, value}}...}}...), or false when nothing was new.
 */
export const tickScript = luaScript(
  "outbox-tick",
  `
local group, consumer, count, a = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local at = a + 5
for i = 1, a do
  local n = tonumber(ARGV[i + 4])
  local first = at
  at = at + n
  for s = first, at - 1, 500 do
    local e = math.min(at - 1, s + 499)
    redis.pcall('XACK', KEYS[i], group, unpack(ARGV, s, e))
    redis.pcall('XDEL', KEYS[i], unpack(ARGV, s, e))
  end
end
local read = {'XREADGROUP', 'GROUP', group, consumer, 'COUNT', count, 'STREAMS'}
for i = a + 1, #KEYS do read[#read + 1] = KEYS[i] end
for i = a + 1, #KEYS do read[#read + 1] = '>' end
return redis.call(unpack(read))
`,
);
