import { saleSteeredLua, type SaleKeys } from "@fluxgate/common";

/** The operator's page shows the sale's last controls; PostgreSQL's sale_events keeps them all. */
export const STEER_EVENTS_KEPT = 50;
/** The KEYS of steer-sale, in the script's order. */
export const steerSaleKeys = (k: SaleKeys) => [k.sale, k.outbox, k.controls, k.events];

/**
 * An operator's control of a live sale, atomically: pause, resume, or an update of its settings
 * (rate, burst, end, ticket TTL) and stock. Each one that changes something raises the sale's
 * settingsVersion (every gate reply carries it, so every isolate learns it with no command of
 * its own) and appends a "sale_steered" event to the sale's outbox, the path every order takes
 * to PostgreSQL. A control is bound to its Idempotency-Key: sent twice (two isolates, a retry),
 * it applies once and answers the same.
 *
 * The bucket is settled at the old rate first, uncapped: the people waiting keep the admissions
 * they were owed until now, and the new rate counts from now. Pausing freezes the sale's clock
 * (gate.lua's `clock`: Redis' time less every pause); resuming adds the pause to `pausedMs`, so
 * the clock goes on from where it stopped: no claim expires and no token accrues while paused.
 *
 * KEYS[1] sale      HASH
 * KEYS[2] outbox    STREAM
 * KEYS[3] controls  HASH    Idempotency-Key -> "<requestHash>|<reply as JSON>"
 * KEYS[4] events    LIST    the newest events first (the operator's page), STEER_EVENTS_KEPT at most
 * ARGV[1] action    "pause" | "resume" | "update"
 * ARGV[2] changes   JSON object: ratePerSecond, burst, endsAt (ms, 0 = none), ticketTtlSeconds, addStock
 * ARGV[3] by        the operator's label
 * ARGV[4] key       the control's Idempotency-Key
 * ARGV[5] requestHash
 * ARGV[6] productId
 *
 * Returns { "unknown" } | { "conflict" } | { "applied" | "unchanged" | "replay", reply JSON, event JSON or "", outbox id or "" }.
 */
export const steerSaleLua = `
local sale, outbox, controls, events = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local action, changes, by, key, requestHash = ARGV[1], cjson.decode(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]

local f = redis.call('HMGET', sale, 'saleId', 'rate', 'burst', 'tokens', 'refilledAt', 'pausedAt', 'pausedMs',
  'settingsVersion', 'added', 'remaining', 'endsAt', 'ticketTtlMs', 'quantity', 'perUserLimit', 'createdAt')
local saleId = f[1]
if not saleId then return {'unknown'} end

local seen = redis.call('HGET', controls, key)
if seen then
  local bar = string.find(seen, '|', 1, true)
  if string.sub(seen, 1, bar - 1) ~= requestHash then return {'conflict'} end
  return {'replay', string.sub(seen, bar + 1), '', ''}
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate, burst, tokens, refilledAt = tonumber(f[2]), tonumber(f[3]), tonumber(f[4]), tonumber(f[5])
local pausedAt, pausedMs = tonumber(f[6]) or 0, tonumber(f[7]) or 0
local version, added, remaining = tonumber(f[8]) or 0, tonumber(f[9]) or 0, tonumber(f[10])
local endsAt, ticketTtlMs = tonumber(f[11]) or 0, tonumber(f[12])

-- Settle the bucket at the rate it had (while running; a paused clock stood still).
if pausedAt == 0 then
  local clock = now - pausedMs
  tokens = tokens + math.max(0, clock - refilledAt) * rate / 1000
  refilledAt = clock
end

-- What this control changed, for the event (a pause or resume changes no setting).
local applied, changed = {}, false
if action == 'pause' then
  if pausedAt == 0 then pausedAt = now; changed = true end
elseif action == 'resume' then
  if pausedAt > 0 then
    pausedMs = pausedMs + (now - pausedAt)
    pausedAt = 0
    changed = true
  end
else
  if changes.ratePerSecond and changes.ratePerSecond ~= rate then rate = changes.ratePerSecond; applied.ratePerSecond = rate end
  if changes.burst and changes.burst ~= burst then burst = changes.burst; applied.burst = burst end
  if changes.endsAt and changes.endsAt ~= endsAt then endsAt = changes.endsAt; applied.endsAt = endsAt end
  if changes.ticketTtlSeconds and changes.ticketTtlSeconds * 1000 ~= ticketTtlMs then
    ticketTtlMs = changes.ticketTtlSeconds * 1000
    applied.ticketTtlSeconds = changes.ticketTtlSeconds
  end
  if changes.addStock then
    remaining = remaining + changes.addStock
    added = added + changes.addStock
    applied.addStock = changes.addStock
  end
end

local outcome, event, entry = 'unchanged', '', ''
if changed or next(applied) ~= nil then
  outcome = 'applied'
  version = version + 1
  redis.call('HSET', sale, 'rate', tostring(rate), 'burst', burst, 'tokens', tostring(tokens), 'refilledAt', refilledAt,
    'pausedAt', pausedAt, 'pausedMs', pausedMs, 'settingsVersion', version, 'added', added, 'remaining', remaining,
    'endsAt', endsAt, 'ticketTtlMs', ticketTtlMs)
  event = ${saleSteeredLua({
    saleId: "saleId",
    productId: "ARGV[6]",
    version: "version",
    action: "action",
    by: "by",
    at: "now",
    changes: "cjson.encode(applied)",
    sale: { quantity: "f[13]", perUserLimit: "f[14]", startedAt: "f[15]", added: "added" },
  })}
  entry = redis.call('XADD', outbox, '*', 'sale', event)
  redis.call('LPUSH', events, event)
  redis.call('LTRIM', events, 0, ${STEER_EVENTS_KEPT - 1})
end
local reply = cjson.encode({saleId = saleId, version = version, paused = pausedAt > 0, ratePerSecond = tostring(rate), burst = burst,
  endsAt = endsAt, ticketTtlSeconds = ticketTtlMs / 1000, remaining = remaining, added = added, at = now})
redis.call('HSET', controls, key, requestHash .. '|' .. reply)
return {outcome, reply, event, entry}
`;
