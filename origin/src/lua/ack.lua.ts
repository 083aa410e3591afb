import { BATCH_LUA } from "./batch.lua";
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
  `${BATCH_LUA}
local group = ARGV[1]
local deleted = 0
eachBatch(2, #KEYS, function(i, first, last) deleted = deleted + confirmIds(KEYS[i], group, first, last) end)
return deleted
`,
);
