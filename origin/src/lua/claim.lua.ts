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
  `
local group, consumer, minIdle = ARGV[1], ARGV[2], ARGV[3]
local at = #KEYS + 4
local out = {}
for i, stream in ipairs(KEYS) do
  local n = tonumber(ARGV[i + 3])
  local first = at
  at = at + n
  for s = first, at - 1, 500 do
    local e = math.min(at - 1, s + 499)
    local claimed = redis.pcall('XCLAIM', stream, group, consumer, minIdle, unpack(ARGV, s, e))
    if type(claimed) == 'table' and claimed.err == nil and #claimed > 0 then
      out[#out + 1] = {i, claimed}
    end
  end
end
return out
`,
);
