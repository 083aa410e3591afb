import { LOTTERY_ENTRY_LENGTH } from "@fluxgate/common";

/**
 * Writes one chunk of the drawn line (lottery/draw.ts computes the order): each entry's place,
 * the units its ticket claims, and the entries in place order for the publication. Idempotent:
 * two drawers write the same values. Bounded work per call (one chunk).
 *
 * KEYS[1] sale      HASH
 * KEYS[2] prequeue  HASH   entry -> units asked
 * KEYS[3] places    HASH   entry -> place
 * KEYS[4] claims    STRING byte n = units ticket n asks for
 * KEYS[5] draw      STRING the entries in place order
 * ARGV[1] saleId    the sale the draw is for (a restart meanwhile makes the chunk "stale")
 * ARGV[2] first     the place of ARGV[3]
 * ARGV[3..] entries in place order
 *
 * Returns "ok", "stale" (another sale now, or not closed yet) or "drawn" (done already).
 */
export const drawWriteLua = `
local f = redis.call('HMGET', KEYS[1], 'saleId', 'prequeued', 'drawn')
if f[1] ~= ARGV[1] or not f[2] then return 'stale' end
if f[3] == '1' then return 'drawn' end
local first = tonumber(ARGV[2])
local fields, units, ids = {}, {}, {}
for i = 3, #ARGV do
  local entry = ARGV[i]
  local q = redis.call('HGET', KEYS[2], entry)
  if not q then return redis.error_reply('not a pre-queue entry: ' .. entry) end
  fields[#fields + 1] = entry
  fields[#fields + 1] = first + i - 3
  units[#units + 1] = string.char(tonumber(q))
  ids[#ids + 1] = entry
end
if #ids == 0 then return 'ok' end
redis.call('HSET', KEYS[3], unpack(fields))
redis.call('SETRANGE', KEYS[4], first, table.concat(units))
redis.call('SETRANGE', KEYS[5], (first - 1) * ${LOTTERY_ENTRY_LENGTH}, table.concat(ids))
return 'ok'
`;

/**
 * Ends the draw once every place is written: the gate's watermark moves from the next call on.
 *
 * KEYS[1] sale     HASH
 * KEYS[2] prequeue HASH
 * KEYS[3] places   HASH
 * KEYS[4] lottery  HASH
 * ARGV[1] saleId
 * ARGV[2] digest   of the entries (lottery.ts), kept beside the seed
 *
 * Returns "drawn", or "stale" / "incomplete" (nothing changed).
 */
export const drawCommitLua = `
local f = redis.call('HMGET', KEYS[1], 'saleId', 'prequeued', 'drawn')
if f[1] ~= ARGV[1] or not f[2] then return 'stale' end
if f[3] == '1' then return 'drawn' end
local n = tonumber(f[2])
if redis.call('HLEN', KEYS[2]) ~= n or redis.call('HLEN', KEYS[3]) ~= n then return 'incomplete' end
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], 'drawn', 1, 'drawnAt', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
redis.call('HSET', KEYS[4], 'digest', ARGV[2])
return 'drawn'
`;
