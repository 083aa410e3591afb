import { BATCH_LUA } from "./batch.lua";
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
  `${BATCH_LUA}
local group, consumer, count, a = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
eachBatch(5, a, function(i, first, last) confirmIds(KEYS[i], group, first, last) end)
local read = {'XREADGROUP', 'GROUP', group, consumer, 'COUNT', count, 'STREAMS'}
for i = a + 1, #KEYS do read[#read + 1] = KEYS[i] end
for i = a + 1, #KEYS do read[#read + 1] = '>' end
return redis.call(unpack(read))
`,
);
