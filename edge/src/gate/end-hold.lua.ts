import { holdsLua, type SaleKeys } from "@fluxgate/common";

/** The KEYS of end-hold, in the script's order. */
export const endHoldKeys = (k: SaleKeys) => [k.sale, k.holds, k.holdOrders, k.buyers, k.idem, k.outbox, k.stats];

/**
 * A held order's end asked for by someone: the shop's payment confirmation, or a cancel (the buyer's
 * own hold, or any order by the operator). Decided against the hold's expiry by Redis' clock in the
 * same call, so a confirmation racing the expiry ends the order exactly one way; a repeat answers
 * how it ended.
 *
 * KEYS: sale, holds, holdOrders, buyers, idem, outbox, stats (holds-lua.ts)
 * ARGV[1] orderId
 * ARGV[2] action   "pay" | "cancel"
 * ARGV[3] by       "shop" | "buyer" | "operator"
 * ARGV[4] userId   the buyer asking to cancel (their own order only), "" otherwise
 *
 * Returns { "unknown" } | { "forbidden" } | { state after the call: held | paid | expired | cancelled, order JSON,
 * and when this call ended it, the OrderStatus's outbox entry id and JSON ("" otherwise) }.
 */
export const endHoldLua = `
local sale, holds, holdOrders, buyers, idem, outbox, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local orderId, action, by, userId = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
${holdsLua({ sale: "sale", holds: "holds", holdOrders: "holdOrders", buyers: "buyers", idem: "idem", outbox: "outbox", stats: "stats" })}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local record = redis.call('HGET', holdOrders, orderId)
if not record then return {'unknown'} end
local bar = string.find(record, '|', 1, true)
local state, order = string.sub(record, 1, bar - 1), string.sub(record, bar + 1)
if by == 'buyer' and cjson.decode(order).userId ~= userId then return {'forbidden'} end

-- The window closed: the hold ends as expired, whatever arrives now.
local expiry = redis.call('ZSCORE', holds, orderId)
if state == 'held' and expiry and tonumber(expiry) <= now then state, order = endHold(orderId, 'expired', 'expiry', now) end

local entry, event = '', ''
if action == 'pay' and state == 'held' then
  state, order, entry, event = endHold(orderId, 'paid', by, now)
elseif action == 'cancel' and (state == 'held' or (state == 'paid' and by == 'operator')) then
  state, order, entry, event = endHold(orderId, 'cancelled', by, now)
end
return {state, order, entry, event}
`;
