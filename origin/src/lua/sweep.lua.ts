import { BATCH_LUA } from "./batch.lua";
import { luaScript } from "./run";

/**
 * The relay's occasional look at everything (at start, then once a minute, and soon after a sale
 * ended), in one command whatever the number of sales:
 *
 * - the events stream gets the relay group (from now: the registry read below covers the past);
 * - each outbox gets the group if it lacks it (a stream deleted and written again loses it), and
 *   hands back the entries pending for minIdleMs (XAUTOCLAIM): a forward that never confirmed and
 *   that this relay no longer tracks (a restart), or a relay instance that died holding them;
 * - the bill's minutes older than a day are dropped;
 * - the outbox of a sale that ended (gone, sold out, past its endsAt), with no unit held for
 *   payment (its end is still to come) and that holds nothing more is retired: out of the registry, so no relay reads it again. Atomic with /init's
 *   init-sale script, so a sale restarted meanwhile is never retired.
 *
 * KEYS[1]      registry SET of outbox streams
 * KEYS[2]      events STREAM
 * KEYS[3..]    pairs: outbox STREAM, sale HASH
 * ARGV[1]      group
 * ARGV[2]      consumer
 * ARGV[3]      minIdleMs
 * ARGV[4]      count: most entries claimed per stream
 * ARGV[5..]    ids of events-stream entries the relay has handled: acknowledged and deleted
 *
 * Returns { registry members, { stream index (1-based pair number), state, entries } ... } where
 * state is "open", "retired", or "broken" (the key is no stream).
 */
export const sweepScript = luaScript(
  "outbox-sweep",
  `${BATCH_LUA}
local registry, events = KEYS[1], KEYS[2]
local group, consumer, minIdle, count = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

redis.pcall('XGROUP', 'CREATE', events, group, '$', 'MKSTREAM')
local oldest = math.floor(now / 60000) - 1440
for _, field in ipairs(redis.call('HKEYS', bill)) do
  local minute = tonumber(string.match(field, '^(%d+):'))
  if minute and minute < oldest then redis.call('HDEL', bill, field) end
end
confirmIds(events, group, 5, #ARGV)

local out = {}
for p = 1, (#KEYS - 2) / 2 do
  local stream, sale = KEYS[2 * p + 1], KEYS[2 * p + 2]
  local kind = redis.call('TYPE', stream)['ok']
  local f = redis.call('HMGET', sale, 'remaining', 'endsAt', 'held')
  -- Units held for payment are not gone: their expiry or payment is still to be relayed.
  local ended = (not f[1]) or ((tonumber(f[1]) <= 0 or (tonumber(f[2] or '0') > 0 and now >= tonumber(f[2]))) and tonumber(f[3] or '0') <= 0)
  if kind ~= 'stream' and kind ~= 'none' then
    out[#out + 1] = {p, 'broken', {}}
  elseif ended and (kind == 'none' or redis.call('XLEN', stream) == 0) then
    redis.call('SREM', registry, stream)
    out[#out + 1] = {p, 'retired', {}}
  else
    redis.pcall('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
    local claimed = redis.call('XAUTOCLAIM', stream, group, consumer, minIdle, '0-0', 'COUNT', count)
    out[#out + 1] = {p, 'open', claimed[2]}
  end
end
return {redis.call('SMEMBERS', registry), out}
`,
);
