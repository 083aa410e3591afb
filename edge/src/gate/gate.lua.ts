import { buyerKeyLua, holdsLua, idemRecordLua, orderMessageLua } from "@fluxgate/common";
import { DRAW_LEASE_MS, STATS_WINDOW_SECONDS } from "../time-windows";
import { GATE_REPLY_LUA } from "./reply";

/**
 * The gate: everything a purchase attempt decides, in one atomic script (one EVALSHA).
 *
 * KEYS[1] sale          HASH    the running sale: settings, stock, token bucket, ticket counters, units claimed
 * KEYS[2] idem          HASH    buyerKey (userId, Idempotency-Key) -> "<requestHash>|<status>|<payload>" (final outcomes, and the ticket of a queued key)
 * KEYS[3] buyers        HASH    userId -> units bought in this sale
 * KEYS[4] outbox        STREAM  accepted orders (field "order", with their traceparent), relayed to Kafka by the origin
 * KEYS[5] marks         ZSET    watermark checkpoints (score: ms, member: watermark) to expire admitted tickets
 * KEYS[6] claims        STRING  byte n = units ticket n asks for; set to 0 once it is used
 * KEYS[7] stats         HASH    "<second>:accepted|admitted|throttled|sold_out|limit_reached|prequeued|calls|paid|expired|cancelled" -> count,
 *                               "<second>:remaining|waiting|claimed" -> level, for the operator's live page, the
 *                               last STATS_WINDOW_SECONDS only ("slot:<second % window>" -> the second using it);
 *                               "total:calls" -> gate calls since the sale started (the bill)
 * KEYS[8] acceptedKeys  STRING  Bloom filter of the accepted keys (buyerKey; 7 bits a byte: key-filter.ts)
 * KEYS[9] queuedKeys    STRING  Bloom filter of the queued keys (buyerKey) and of the buyers with a place ("u:<userId>")
 * KEYS[10] challenges   ZSET    proof-of-work challenge id -> expiry (ms), once spent
 * KEYS[11] prequeue     HASH    pre-queue entry -> units asked (one entry per buyer, before the start)
 * KEYS[12] places       HASH    pre-queue entry -> place in line (the draw writes it at the start)
 * KEYS[13] lottery      HASH    the lottery's secrets: salt (of the entries), seed
 * KEYS[14] ledger       HASH    per buyer: "p:<userId>" -> their one place in line, "k:<userId>" -> their accepted keys
 * KEYS[15] holds        ZSET    held order -> when its hold expires; KEYS[16] holdOrders HASH (common/src/holds-lua.ts)
 * ARGV[1] idempotencyKey  "" to only look: expire claims, move the watermark, answer "view"
 * ARGV[2] requestHash     hex SHA-256 of the request's productId, userId and quantity
 * ARGV[3] userId
 * ARGV[4] quantity
 * ARGV[5] orderId         the order's id if this attempt is accepted
 * ARGV[6] productId
 * ARGV[7] soldOutFromMemory  sold-out answers the isolate gave from memory since its last call (batched counter)
 * ARGV[8] filters         1: the accepted-keys filter once the sale is sold out, 2: the queued-keys filter, 3: both
 * ARGV[9] challenge       "saleId|difficulty|id|expiresAt" of a solved challenge the edge checked, "" when none
 * ARGV[10] traceparent    W3C traceparent of the edge's span (validated there), stored in the order; "" when none
 *
 * No ticket travels: the buyer's place is the ledger's (a ticket the edge signed only spares it a
 * call while the line is certainly not there yet).
 *
 * Returns the fields of reply.ts (GATE_REPLY_LUA: outcome, saleId, remaining, issued, admitted, rate,
 * now, a, b, claimed, the two key filters, endsAt (0 = open-ended), powDifficulty (0 = off: every
 * reply says it, so the edge learns it), prequeueOpensAt (0 = no pre-queue), draw ("" | "drawing" |
 * "lead": this caller draws the line, see lottery/draw.ts | "drawn"), startsAt), where a and b are:
 *   accepted   a = order JSON, b = outbox entry id
 *   replay     a = status, b = payload (the first outcome of this Idempotency-Key)
 *   queued     a = ticket number, b = "expired" when an admitted ticket came back too late, "held" when
 *              no unit is free but some are held for payment and may come back ("sold out for now")
 *   sold_out | insufficient   a = payload
 *   limit_reached  a = payload, b = the buyer's accepted keys, one a line (a retry of one of them still gets its order)
 *   not_started a = startsAt (ms);  view (no key);  ended;  conflict;  unknown (no sale: nothing else is returned)
 *   challenge  a = difficulty, b = "required" | "stale" | "replayed"
 *   prequeued  a = entry, b = entries so far (before the start);  drawing  a = entry (started, the line not drawn yet)
 *
 * One buyer, one share of the line: a buyer holds at most one place (ledger "p:<userId>"), for at
 * most perUserLimit - bought units, whatever the number of keys, isolates or retries. Any key of a
 * buyer with a live place (issued, unspent, unexpired) gets that place, and buys with it the units
 * it was issued for. A new place, or a purchase without one, is granted only for a fresh proof of
 * work where the sale asks for one; a place that expired is taken again only at the back, so at
 * most once per ticket TTL (it expired at least a TTL after it was issued).
 *
 * Claims: a ticket the watermark passed holds its units until it buys or its TTL runs out. The
 * watermark only passes tickets whose units are not claimed yet (claimed <= remaining, always),
 * and a newcomer buys only units nobody holds a claim on; an expired claim is returned at the
 * next call. Time is Redis' own clock (TIME), so every isolate refills the same bucket.
 *
 * Pre-queue: from prequeueOpensAt until startsAt an attempt enters the pre-queue (one entry per
 * buyer: SHA-1 of the sale's secret salt and the userId, so the published list names nobody). The
 * first call at or after the start closes it: its entries take tickets 1..N, in the order the draw
 * gives them (places), and the watermark waits until the draw is written; later arrivals get
 * N+1, N+2, … behind them. One caller at a time holds the lease to draw (the edge, in waitUntil).
 */
export const gateLua = `
local sale, idem, buyers, outbox, marks, claims, stats, acceptedKeys, queuedKeys =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local ledger, holds, holdOrders = KEYS[14], KEYS[15], KEYS[16]
local key, requestHash, userId = ARGV[1], ARGV[2], ARGV[3]
-- The key as this buyer's: another buyer's same key is another record.
local mine = ${buyerKeyLua("userId", "key")}
local quantity = tonumber(ARGV[4])
local orderId, productId, soldOutFromMemory = ARGV[5], ARGV[6], tonumber(ARGV[7]) or 0
local filters = tonumber(ARGV[8]) or 0
local challenges, challenge = KEYS[10], ARGV[9] or ''
local prequeue, places, lottery = KEYS[11], KEYS[12], KEYS[13]
local traceparent = ARGV[10] or ''

local f = redis.call('HMGET', sale, 'saleId', 'remaining', 'rate', 'burst', 'perUserLimit', 'startsAt',
  'tokens', 'refilledAt', 'issued', 'admitted', 'ticketTtlMs', 'claimed', 'expired', 'acceptedBytes', 'queuedBytes',
  'quantity', 'createdAt', 'endsAt', 'powDifficulty', 'prequeueOpensAt', 'prequeued', 'drawn', 'drawLeaseUntil',
  'pausedAt', 'pausedMs', 'settingsVersion', 'added', 'holdMs', 'held')
local saleId = f[1]
if not saleId then return {'unknown'} end
local remaining, rate, burst, perUserLimit = tonumber(f[2]), tonumber(f[3]), tonumber(f[4]), tonumber(f[5])
local startsAt, tokens, refilledAt = tonumber(f[6]), tonumber(f[7]), tonumber(f[8])
local issued, admitted, ticketTtlMs = tonumber(f[9]), tonumber(f[10]), tonumber(f[11])
local claimed, expired = tonumber(f[12]) or 0, tonumber(f[13]) or 0
local acceptedBytes, queuedBytes = tonumber(f[14]) or 1, tonumber(f[15]) or 1
local endsAt = tonumber(f[18]) or 0
local powDifficulty = tonumber(f[19]) or 0
local prequeueOpensAt, prequeued, drawn, drawLeaseUntil = tonumber(f[20]) or 0, tonumber(f[21]), f[22] == '1', tonumber(f[23]) or 0
local draw = ''
local pausedAt, pausedMs, settingsVersion = tonumber(f[24]) or 0, tonumber(f[25]) or 0, tonumber(f[26]) or 0

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- The sale's own clock: Redis' time less every pause, so neither the bucket nor a claim's TTL runs
-- while the sale is paused (steer-sale.lua keeps it continuous across a pause).
local clock = now - pausedMs

-- Holds whose payment window closed end here, before anything is decided: their units are back
-- in the stock for this very attempt (and the line's claims take them first).
local holdMs, held = tonumber(f[28]) or 0, tonumber(f[29]) or 0
${holdsLua({ sale: "sale", holds: "holds", holdOrders: "holdOrders", buyers: "buyers", idem: "idem", outbox: "outbox", stats: "stats" })}
if held > 0 and sweepHolds(now) > 0 then
  local back = redis.call('HMGET', sale, 'remaining', 'held')
  remaining, held = tonumber(back[1]), tonumber(back[2])
end

-- Bloom filter: 14 bit positions (KEY_FILTER_HASHES) from the key's SHA-1 (double hashing), only the
-- low 7 bits of each byte, so the filter travels as ASCII text (edge/src/gate/key-filter.ts reads it).
local function addKey(filter, bytes, member)
  local h = redis.sha1hex(member)
  local h1, h2 = tonumber(string.sub(h, 1, 8), 16), tonumber(string.sub(h, 9, 16), 16)
  local m = bytes * 7
  for i = 0, 13 do
    local p = (h1 + i * h2) % m
    redis.call('SETBIT', filter, math.floor(p / 7) * 8 + 1 + p % 7, 1)
  end
end

local counted = {accepted = 'accepted', queued = 'throttled', sold_out = 'sold_out', limit_reached = 'limit_reached', prequeued = 'prequeued'}
local secondFields = {'accepted', 'admitted', 'throttled', 'sold_out', 'limit_reached', 'prequeued', 'calls', 'remaining', 'waiting', 'claimed', 'held', 'paid', 'expired', 'cancelled'}
local function reply(outcome, a, b)
  -- Per-second counters and levels for the operator's live page, in the same call.
  local second = math.floor(now / 1000)
  local sec = string.format('%d', second)
  if counted[outcome] then redis.call('HINCRBY', stats, sec .. ':' .. counted[outcome], 1) end
  -- Every gate call is one billed command: the edge's share of the bill, kept as a running total.
  redis.call('HINCRBY', stats, 'total:calls', 1)
  if redis.call('HINCRBY', stats, sec .. ':calls', 1) == 1 then
    -- The first call of a second takes over its slot in the ring and deletes what the second that
    -- used it before wrote: the hash keeps the last ${STATS_WINDOW_SECONDS} s at most, for one HGET,
    -- HDEL and HSET a second (not a call), however long the sale runs.
    local slot = 'slot:' .. (second % ${STATS_WINDOW_SECONDS})
    local old = redis.call('HGET', stats, slot)
    if old and old ~= sec then
      local fields = {}
      for i, field in ipairs(secondFields) do fields[i] = old .. ':' .. field end
      redis.call('HDEL', stats, unpack(fields))
    end
    redis.call('HSET', stats, slot, sec)
  end
  if soldOutFromMemory > 0 then redis.call('HINCRBY', stats, sec .. ':sold_out', soldOutFromMemory) end
  redis.call('HSET', stats, sec .. ':remaining', remaining, sec .. ':waiting', issued - admitted, sec .. ':claimed', claimed, sec .. ':held', held)
  -- The accepted keys are final once nothing is left or the sale ended: only then is the filter worth keeping.
  local accepted = ''
  if filters % 2 == 1 and (remaining <= 0 or (endsAt > 0 and now >= endsAt) or pausedAt > 0) then accepted = acceptedBytes .. ':' .. (redis.call('GET', acceptedKeys) or '') end
  local queued = ''
  if filters >= 2 then queued = queuedBytes .. ':' .. (redis.call('GET', queuedKeys) or '') end
  return ${GATE_REPLY_LUA}
end

-- A key seen before answers what it answered then. A queued key's place is its buyer's (below),
-- so a double click, or a retry that lost the ticket, gets the same place instead of a second one.
local seen = key ~= '' and redis.call('HGET', idem, mine)
local prequeuedKey = false
if seen then
  -- The record's layout: common/src/idem-record.ts.
  local bar1 = string.find(seen, '|', 1, true)
  local bar2 = string.find(seen, '|', bar1 + 1, true)
  if string.sub(seen, 1, bar1 - 1) ~= requestHash then return reply('conflict') end
  local status, payload = string.sub(seen, bar1 + 1, bar2 - 1), string.sub(seen, bar2 + 1)
  if status == 'queued' then
    -- Its place is the buyer's (ledger), looked up below like any key's.
  elseif status == 'prequeued' then
    prequeuedKey = true
  else
    return reply('replay', status, payload)
  end
end

-- Ended (past endsAt, or closed by the operator): final, like sold out; the edge remembers it.
if endsAt > 0 and now >= endsAt then return reply('ended') end
-- Paused by the operator: nothing moves (no place given, no unit sold, no claim expires), and a
-- look at the line sees it as it stood. Every place and claim is kept for the resume.
if pausedAt > 0 then
  if key == '' then return reply('view') end
  return reply('paused')
end

-- The buyer's pre-queue entry: the same for every key of theirs, unknown to anyone without the salt.
local entry
if prequeueOpensAt > 0 and key ~= '' then entry = redis.sha1hex(redis.call('HGET', lottery, 'salt') .. '|' .. userId) end
if prequeueOpensAt > 0 and now >= startsAt then
  -- The start closes the pre-queue: its entries are the first N tickets, the draw says whose is whose.
  if not prequeued then
    prequeued = redis.call('HLEN', prequeue)
    issued = issued + prequeued
    drawn = prequeued == 0
    redis.call('HSET', sale, 'prequeued', prequeued, 'issued', issued, 'drawn', drawn and 1 or 0)
  end
  if drawn then
    draw = 'drawn'
  elseif drawLeaseUntil <= now then
    -- One drawer at a time; another caller takes over if this one has not finished within the lease.
    draw = 'lead'
    redis.call('HSET', sale, 'drawLeaseUntil', now + ${DRAW_LEASE_MS})
  else
    draw = 'drawing'
  end
  if entry and not drawn and redis.call('HEXISTS', prequeue, entry) == 1 then return reply('drawing', entry) end
end

-- Proof of work, when the sale asks for it, for what a fresh attempt would be granted (a place in
-- the pre-queue or the line, or units without one): a challenge of this sale, solved at its
-- difficulty, never spent before. The edge checked the signature, expiry and work; here it
-- becomes single-use, in the same call. Nil when the attempt may go on.
local function proofRefused()
  if powDifficulty == 0 then return nil end
  local cSale, cBits, cId, cExpires = string.match(challenge, '^([^|]*)|(%d+)|([^|]+)|(%d+)$')
  if not cId then return 'required' end
  if cSale ~= saleId or tonumber(cBits) < powDifficulty then return 'stale' end
  redis.call('ZREMRANGEBYSCORE', challenges, '-inf', now)
  if redis.call('ZADD', challenges, 'NX', cExpires, cId) == 0 then return 'replayed' end
  return nil
end

if now < startsAt then
  if prequeueOpensAt == 0 or now < prequeueOpensAt or key == '' then return reply('not_started', startsAt) end
  if not prequeuedKey and redis.call('HEXISTS', prequeue, entry) == 0 then
    local refused = proofRefused()
    if refused then return reply('challenge', powDifficulty, refused) end
  end
  -- The pre-queue is open: a place in the draw, one per buyer (a repeat keeps the same entry),
  -- never for more than the buyer may buy.
  if quantity > perUserLimit then
    local payload = cjson.encode({bought = 0, limit = perUserLimit})
    redis.call('HSET', idem, mine, ${idemRecordLua("requestHash", "'limit_reached'", "payload")})
    return reply('limit_reached', payload)
  end
  if redis.call('HSETNX', prequeue, entry, quantity) == 1 then
    redis.call('HINCRBY', sale, 'prequeueEntries', 1)
    -- Marked as queued, so no isolate ever puts a pre-queued buyer on standby from memory.
    addKey(queuedKeys, queuedBytes, 'u:' .. userId)
  end
  redis.call('HSET', idem, mine, ${idemRecordLua("requestHash", "'prequeued'", "entry")})
  return reply('prequeued', entry, redis.call('HLEN', prequeue))
end
-- Sold out only when no unit can come back: while some are held for payment, "sold out for now"
-- (the attempt keeps or takes its place in line, and a released unit goes to the line).
if remaining <= 0 and held <= 0 then return reply('sold_out') end
local heldNote = nil
if remaining <= 0 then heldNote = 'held' end

local function units(from, to)
  local s = redis.call('GETRANGE', claims, from, to)
  local sum = 0
  for i = 1, #s do sum = sum + string.byte(s, i) end
  return sum, s
end

-- Claims whose TTL ran out go back to the line now: tickets up to the newest watermark older
-- than the TTL expired.
local old = redis.call('ZREVRANGEBYSCORE', marks, clock - ticketTtlMs, '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
if old[1] then
  local upTo = tonumber(old[1])
  if upTo > expired then
    claimed = claimed - units(expired + 1, upTo)
    expired = upTo
  end
  redis.call('ZREMRANGEBYSCORE', marks, '-inf', '(' .. old[2])
end

-- Token bucket, refilled for the time since the last call. Tokens first move the queue's watermark:
-- tickets up to it may buy, in the order they were issued, and each one passed claims its units.
-- While people wait the watermark moves at the full rate, however long nobody called, but never
-- past a ticket whose units are all claimed by those ahead of it.
local available = tokens + math.max(0, clock - refilledAt) * rate / 1000
local backlog = issued - admitted
-- Until the draw is written the first N tickets have no owners (nor claims) yet: the line waits.
if backlog > 0 and available >= 1 and (prequeueOpensAt == 0 or drawn) then
  local _, s = units(admitted + 1, admitted + math.min(math.floor(available), backlog))
  local step = 0
  for i = 1, #s do
    local u = string.byte(s, i)
    if claimed + u > remaining then break end
    claimed = claimed + u
    step = i
  end
  if step > 0 then
    admitted = admitted + step
    available = available - step
    redis.call('ZADD', marks, clock, admitted)
    -- Admissions per second: what the bucket let through (the accepted series lags it by each buyer's next call).
    redis.call('HINCRBY', stats, string.format('%d', math.floor(now / 1000)) .. ':admitted', step)
  end
end
tokens = math.min(burst, available)

local function save()
  redis.call('HSET', sale, 'tokens', tostring(tokens), 'refilledAt', clock, 'issued', issued, 'admitted', admitted,
    'claimed', claimed, 'expired', expired)
end
-- No key: a waiting room's look at the line, which moves it (expired claims back, the watermark on).
if key == '' then
  save()
  return reply('view')
end
-- The buyer's place: the ledger's, or (a sale with a pre-queue) the one the draw gave their entry.
local placeField = 'p:' .. userId
local place = tonumber(redis.call('HGET', ledger, placeField) or '0')
if place == 0 and entry and drawn then place = tonumber(redis.call('HGET', places, entry) or '0') end
local placeUnits = 0
if place > 0 and place <= issued then placeUnits = string.byte(redis.call('GETRANGE', claims, place, place)) or 0 end
-- Live: issued, unspent and unexpired. Such a place is the buyer's whole share of the line.
local live = placeUnits > 0 and place > expired

local bought = tonumber(redis.call('HGET', buyers, userId) or '0')
local keysField = 'k:' .. userId
local function limitReached(boughtNow)
  local payload = cjson.encode({bought = boughtNow, limit = perUserLimit})
  redis.call('HSET', idem, mine, ${idemRecordLua("requestHash", "'limit_reached'", "payload")})
  save()
  return reply('limit_reached', payload, redis.call('HGET', ledger, keysField) or '')
end
local function remember(status, payload)
  if not seen then redis.call('HSET', idem, mine, ${idemRecordLua("requestHash", "status", "payload")}) end
end

local function enqueue(note)
  issued = issued + 1
  redis.call('HSET', idem, mine, ${idemRecordLua("requestHash", "'queued'", "issued")})
  redis.call('HSET', ledger, placeField, issued)
  redis.call('SETRANGE', claims, issued, string.char(quantity))
  addKey(queuedKeys, queuedBytes, mine)
  -- The buyer too: an isolate never puts someone with a place on standby from memory.
  addKey(queuedKeys, queuedBytes, 'u:' .. userId)
  save()
  return reply('queued', issued, note)
end

local byPlace = false
if live then
  -- Whatever key or ticket this attempt brought: the buyer's one place, and the units it was issued for.
  quantity = placeUnits
  if bought + quantity > perUserLimit then
    -- Cannot happen while places are issued within the limit; if it did, the place goes back to the line.
    if place <= admitted then claimed = claimed - placeUnits end
    redis.call('SETRANGE', claims, place, '\\0')
    return limitReached(bought)
  end
  remember('queued', place)
  if place > admitted then
    if not seen then addKey(queuedKeys, queuedBytes, mine) end
    save()
    return reply('queued', place, heldNote)
  end
  byPlace = true
else
  if bought + quantity > perUserLimit then return limitReached(bought) end
  -- Nothing already paid for: a new place, or units without one, costs a fresh proof of work.
  local refused = proofRefused()
  if refused then
    save()
    return reply('challenge', powDifficulty, refused)
  end
  -- A place that expired unused: the buyer may line up again, at the back.
  local note = heldNote
  if placeUnits > 0 then note = 'expired' end
  if issued > admitted then
    -- Others are waiting: a fresh arrival queues behind them, whatever the bucket holds.
    return enqueue(note)
  elseif tokens >= 1 and remaining - claimed >= quantity then
    -- Nobody waits, and enough units are free of claims.
    tokens = tokens - 1
  else
    return enqueue(note)
  end
end

local free = remaining - claimed + (byPlace and placeUnits or 0)
if quantity > free then
  save()
  return reply('insufficient', cjson.encode({remaining = free}))
end

remaining = redis.call('HINCRBY', sale, 'remaining', -quantity)
if byPlace then
  -- The place is spent: its claim becomes the units just taken.
  claimed = claimed - placeUnits
  redis.call('SETRANGE', claims, place, '\\0')
end
redis.call('HINCRBY', buyers, userId, quantity)
local accepted = redis.call('HGET', ledger, keysField)
redis.call('HSET', ledger, keysField, accepted and (accepted .. '\\n' .. key) or key)
-- With holds, the units are the buyer's until the payment window closes (holds-lua.ts ends it).
local holdExpiresAt = 0
if holdMs > 0 then holdExpiresAt = now + holdMs end
local order = ${orderMessageLua({
  orderId: "orderId",
  saleId: "saleId",
  productId: "productId",
  userId: "userId",
  quantity: "quantity",
  idempotencyKey: "key",
  acceptedAt: "now",
  sale: { quantity: "f[16]", perUserLimit: "f[5]", startedAt: "f[17]", added: "(tonumber(f[27]) or 0)" },
  holdExpiresAt: "holdExpiresAt",
  traceparent: "traceparent",
})}
local entry = redis.call('XADD', outbox, '*', 'order', order)
if holdExpiresAt > 0 then
  redis.call('ZADD', holds, holdExpiresAt, orderId)
  redis.call('HSET', holdOrders, orderId, 'held|' .. order)
  held = redis.call('HINCRBY', sale, 'held', quantity)
end
redis.call('HSET', idem, mine, ${idemRecordLua("requestHash", "'accepted'", "order")})
addKey(acceptedKeys, acceptedBytes, mine)
save()
return reply('accepted', order, entry)
`;
