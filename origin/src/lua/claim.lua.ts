import { BATCH_LUA } from "./batch.lua";
import { luaScript } from "./run";

/**
 * The entries this relay read that no forward confirmed in time: each one still pending and idle
 * for at least minIdleMs is claimed (XCLAIM) and returned; the ones a forward confirmed meanwhile
 * (deleted, or acknowledged) are not. One command for every stream.
 *
 * KEYS[1..n]   outbox STREAMs
 * ARGV[1]      group
 * ARGV[2]      consumer
 * ARGV[3]      minIdleMs
 * ARGV[4..n+3] how many ids of each stream follow, in KEYS order
 * ARGV[n+4..]  the ids, stream after stream
 *
 * Returns { stream index (1-based), {id, {field, value, ...}}, ... } per stream with claimed entries.
 */
export const claimScript = luaScript(
  "outbox-claim",
  `${BATCH_LUA}
local group, consumer, minIdle = ARGV[1], ARGV[2], ARGV[3]
local out = {}
eachBatch(4, #KEYS, function(i, first, last)
  inChunks(first, last, function(s, e)
    local claimed = redis.pcall('XCLAIM', KEYS[i], group, consumer, minIdle, unpack(ARGV, s, e))
    if type(claimed) == 'table' and claimed.err == nil and #claimed > 0 then
      out[#out + 1] = {i, claimed}
    end
  end)
end)
return out
`,
);
