import { buyerKeyLua } from "./idem-record";
import { orderStatusLua } from "./message-lua";

/** The Lua expressions naming the keys a hold's end touches (saleKeys: sale, holds, holdOrders, buyers, idem, outbox, stats). */
export interface HoldKeysLua {
  sale: string;
  holds: string;
  holdOrders: string;
  buyers: string;
  idem: string;
  outbox: string;
  stats: string;
}

/**
 * The origin sweeps a quiet sale's expired holds at most this often (its HOLD_SWEEP_INTERVAL_MS
 * default): the bound of one sweep command per second per sale with expired holds, and
 * how late after its expiry a hold's units are back when no buyer calls.
 */
export const HOLD_SWEEP_INTERVAL_MS = 1_000;

/** How many expired holds one call ends at most (the rest go at the next call, a few ms later). */
export const HOLDS_ENDED_PER_CALL = 50;

/**
 * How a hold ends, in Lua: one definition for every script that ends one — the gate's sweep on
 * each call, the shop's payment, a cancel, the origin's sweep of a quiet sale. Defines
 * `endHold(orderId, status, by, now)` and `sweepHolds(now)`.
 *
 * A hold is the `holds` ZSET (orderId -> expiry, Redis' clock) and `holdOrders` (orderId ->
 * "<state>|<order JSON>", kept after the end so a retried confirmation answers the same). Ending
 * one is atomic with whatever the calling script decided (a confirmation against the expiry can
 * only end one way):
 *   paid       held -> paid (the units stay sold);
 *   expired    held -> the units go back to the sale's stock (the line's claims take them first: the
 *              gate's watermark), the buyer's count goes back, the key's record says "expired";
 *   cancelled  held or paid -> likewise (the operator may cancel a paid order; the shop refunds).
 * Each end appends an OrderStatus to the outbox (one per order and status) and counts in the stats.
 * Returns the order's state and JSON after the call (its end, or the state it was already in), and
 * when this call ended it, the OrderStatus's outbox entry id and JSON (for the edge to forward).
 */
export const holdsLua = (k: HoldKeysLua) => `
local function endHold(orderId, status, by, now)
  local record = redis.call('HGET', ${k.holdOrders}, orderId)
  if not record then return nil end
  local bar = string.find(record, '|', 1, true)
  local state, order = string.sub(record, 1, bar - 1), string.sub(record, bar + 1)
  if not (state == 'held' or (state == 'paid' and status == 'cancelled')) then return state, order end
  local o = cjson.decode(order)
  local units = tonumber(o.quantity)
  redis.call('ZREM', ${k.holds}, orderId)
  if status == 'paid' then
    redis.call('HINCRBY', ${k.sale}, 'held', -units)
    redis.call('HINCRBY', ${k.sale}, 'paid', units)
  else
    redis.call('HINCRBY', ${k.sale}, state, -units)
    redis.call('HINCRBY', ${k.sale}, 'remaining', units)
    redis.call('HINCRBY', ${k.sale}, 'released', units)
    redis.call('HINCRBY', ${k.buyers}, o.userId, -units)
    -- The key's record keeps its request hash: a retry of it is told how its order ended.
    local mine = ${buyerKeyLua("o.userId", "o.idempotencyKey")}
    local seen = redis.call('HGET', ${k.idem}, mine)
    if seen then
      local b1 = string.find(seen, '|', 1, true)
      local b2 = string.find(seen, '|', b1 + 1, true)
      redis.call('HSET', ${k.idem}, mine, string.sub(seen, 1, b1) .. status .. string.sub(seen, b2))
    end
  end
  redis.call('HSET', ${k.holdOrders}, orderId, status .. '|' .. order)
  redis.call('HINCRBY', ${k.stats}, string.format('%d', math.floor(now / 1000)) .. ':' .. status, 1)
  local event = ${orderStatusLua({
    orderId: "orderId",
    saleId: "o.saleId",
    productId: "o.productId",
    status: "status",
    by: "by",
    at: "now",
    order: "order",
  })}
  local entry = redis.call('XADD', ${k.outbox}, '*', 'sale', event)
  return status, order, entry, event
end

local function sweepHolds(now)
  local due = redis.call('ZRANGEBYSCORE', ${k.holds}, '-inf', now, 'LIMIT', 0, ${HOLDS_ENDED_PER_CALL})
  for _, orderId in ipairs(due) do endHold(orderId, 'expired', 'expiry', now) end
  return #due
end
`;
