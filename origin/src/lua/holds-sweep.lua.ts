import { HOLDS_ENDED_PER_CALL, holdsLua, type SaleKeys } from "@fluxgate/common";
import { luaScript } from "./run";

/** The KEYS of holds-sweep, in the script's order (those of common/src/holds-lua.ts). */
export const holdsSweepKeys = (k: SaleKeys) => [k.sale, k.holds, k.holdOrders, k.buyers, k.idem, k.outbox, k.stats];

/** Passes of sweepHolds one call runs at most: 1,000 holds ended per call, a few ms of Redis' time. */
export const HOLDS_SWEEP_PASSES = 20;

/**
 * The origin's sweep of a quiet sale's holds: the gate ends expired holds on every call, but when
 * no buyer calls, this is what brings their units back (to the line first: the gate's watermark)
 * within the sweep interval. One command however many holds it ends; each end is the one
 * definition in common/src/holds-lua.ts (an OrderStatus in the outbox, relayed like any entry).
 *
 * KEYS   sale HASH, holds ZSET, holdOrders HASH, buyers HASH, idem HASH, outbox STREAM, stats HASH
 * ARGV[1] passes: sweepHolds runs until a pass ends fewer than HOLDS_ENDED_PER_CALL, at most this often
 *
 * Returns { holds ended, Redis' clock (ms), the next hold still pending: its orderId and expiry
 * (ms), or "" "" when none is }. With more expired than one call ends, the next is already due.
 */
export const holdsSweepScript = luaScript(
  "holds-sweep",
  `
local sale, holds, holdOrders, buyers, idem, outbox, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
${holdsLua({ sale: "sale", holds: "holds", holdOrders: "holdOrders", buyers: "buyers", idem: "idem", outbox: "outbox", stats: "stats" })}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ended = 0
for _ = 1, tonumber(ARGV[1]) do
  local n = sweepHolds(now)
  ended = ended + n
  if n < ${HOLDS_ENDED_PER_CALL} then break end
end
local nextHold = redis.call('ZRANGE', holds, 0, 0, 'WITHSCORES')
return {ended, now, nextHold[1] or '', nextHold[2] or ''}
`,
);
