/**
 * The gate: everything a purchase attempt decides, in one atomic script (one EVALSHA).
 *
 * KEYS[1] sale    HASH    the running sale: settings, stock, token bucket, ticket counters
 * KEYS[2] idem    HASH    Idempotency-Key -> "<requestHash>|<status>|<payload>" (final outcomes, and the ticket of a queued key)
 * KEYS[3] buyers  HASH    userId -> units bought in this sale
 * KEYS[4] outbox  STREAM  accepted orders (field "order"), relayed to Kafka by the origin
 * KEYS[5] marks   ZSET    watermark checkpoints (score: ms, member: watermark) to expire admitted tickets
 * KEYS[6] used    BITMAP  ticket number -> 1 once an admitted ticket bought
 * KEYS[7] stats   HASH    "<second>:accepted|throttled|sold_out|limit_reached" -> count,
 *                         "<second>:remaining|waiting" -> level, for the operator's live page
 * KEYS[8] challenges ZSET  proof-of-work challenge id -> expiry (ms), once spent
 * ARGV[1] idempotencyKey
 * ARGV[2] requestHash     hex SHA-256 of the request's productId, userId and quantity
 * ARGV[3] userId
 * ARGV[4] quantity
 * ARGV[5] ticket          queue ticket number presented, 0 when none
 * ARGV[6] ticketSaleId    the sale the ticket was issued for, "" when none
 * ARGV[7] orderId         the order's id if this attempt is accepted
 * ARGV[8] productId
 * ARGV[9] soldOutFromMemory  sold-out answers the isolate gave from memory since its last call (batched counter)
 * ARGV[10] challenge      "saleId|difficulty|id|expiresAt" of a solved challenge the edge checked, "" when none
 *
 * Returns { outcome, saleId, remaining, issued, admitted, rate, now (ms), detail... }:
 *   accepted   detail = order JSON, outbox entry id
 *   replay     detail = status, payload (the first outcome of this Idempotency-Key)
 *   queued     detail = ticket number, "expired" when an admitted ticket came back too late
 *   sold_out | limit_reached | insufficient   detail = payload
 *   not_started detail = startsAt (ms);  conflict;  unknown (no sale: nothing else is returned)
 *   challenge  detail = difficulty, "required" | "stale" | "replayed"
 * and, last, the sale's proof-of-work difficulty (0 = off), so the edge learns it from any reply.
 *
 * Time is Redis' own clock (TIME), so every isolate refills the same bucket at the same rate.
 */
export const gateLua = `
local sale, idem, buyers, outbox, marks, used, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local key, requestHash, userId = ARGV[1], ARGV[2], ARGV[3]
local quantity, ticket, ticketSaleId = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local orderId, productId, soldOutFromMemory = ARGV[7], ARGV[8], tonumber(ARGV[9]) or 0
local challenges, challenge = KEYS[8], ARGV[10]

local f = redis.call('HMGET', sale, 'saleId', 'remaining', 'rate', 'burst', 'perUserLimit', 'startsAt',
  'tokens', 'refilledAt', 'issued', 'admitted', 'ticketTtlMs', 'powDifficulty')
local saleId = f[1]
if not saleId then return {'unknown'} end
local remaining, rate, burst, perUserLimit = tonumber(f[2]), tonumber(f[3]), tonumber(f[4]), tonumber(f[5])
local startsAt, tokens, refilledAt = tonumber(f[6]), tonumber(f[7]), tonumber(f[8])
local issued, admitted, ticketTtlMs = tonumber(f[9]), tonumber(f[10]), tonumber(f[11])
local powDifficulty = tonumber(f[12]) or 0

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local counted = {accepted = 'accepted', queued = 'throttled', sold_out = 'sold_out', limit_reached = 'limit_reached'}
local function reply(outcome, a, b)
  -- Per-second counters and levels for the operator's live page, in the same call.
  local sec = string.format('%d', math.floor(now / 1000))
  if counted[outcome] then redis.call('HINCRBY', stats, sec .. ':' .. counted[outcome], 1) end
  if soldOutFromMemory > 0 then redis.call('HINCRBY', stats, sec .. ':sold_out', soldOutFromMemory) end
  redis.call('HSET', stats, sec .. ':remaining', remaining, sec .. ':waiting', issued - admitted)
  return {outcome, saleId, remaining, issued, admitted, rate, now, a or false, b or false, powDifficulty}
end

-- A key seen before answers what it answered then. A key that was queued keeps its ticket, so a
-- double click, or a retry that lost the ticket, gets the same place instead of a second one.
local seen = redis.call('HGET', idem, key)
if seen then
  local bar1 = string.find(seen, '|', 1, true)
  local bar2 = string.find(seen, '|', bar1 + 1, true)
  if string.sub(seen, 1, bar1 - 1) ~= requestHash then return reply('conflict') end
  local status, payload = string.sub(seen, bar1 + 1, bar2 - 1), string.sub(seen, bar2 + 1)
  if status ~= 'queued' then return reply('replay', status, payload) end
  ticket, ticketSaleId = tonumber(payload), saleId
end

-- Proof of work, when the sale asks for it: a fresh attempt (not one holding its place in line)
-- brings a challenge of this sale, solved at its difficulty, never spent before. The edge checked
-- the signature, expiry and work; here it becomes single-use, in the same call.
if powDifficulty > 0 and not (ticket > 0 and ticketSaleId == saleId) then
  local cSale, cBits, cId, cExpires = string.match(challenge, '^([^|]*)|(%d+)|([^|]+)|(%d+)$')
  if not cId then return reply('challenge', powDifficulty, 'required') end
  if cSale ~= saleId or tonumber(cBits) < powDifficulty then return reply('challenge', powDifficulty, 'stale') end
  redis.call('ZREMRANGEBYSCORE', challenges, '-inf', now)
  if redis.call('ZADD', challenges, 'NX', cExpires, cId) == 0 then return reply('challenge', powDifficulty, 'replayed') end
end

if now < startsAt then return reply('not_started', startsAt) end
if remaining <= 0 then return reply('sold_out') end

-- Token bucket, refilled for the time since the last call. Tokens first move the queue's watermark:
-- tickets up to it may buy, in the order they were issued. While people wait the watermark moves at
-- the full rate, however long nobody called (each waiting page computes the same projection); the
-- burst caps only the capacity saved up while nobody waits.
local available = tokens + math.max(0, now - refilledAt) * rate / 1000
local backlog = issued - admitted
if backlog > 0 and available >= 1 then
  local step = math.min(math.floor(available), backlog)
  admitted = admitted + step
  available = available - step
  redis.call('ZADD', marks, now, admitted)
end
tokens = math.min(burst, available)

local function save()
  redis.call('HSET', sale, 'tokens', tostring(tokens), 'refilledAt', now, 'issued', issued, 'admitted', admitted)
end
local function enqueue(note)
  issued = issued + 1
  redis.call('HSET', idem, key, requestHash .. '|queued|' .. issued)
  save()
  return reply('queued', issued, note)
end

local admittedByTicket = false
if ticket > 0 and ticketSaleId == saleId and ticket <= issued and redis.call('GETBIT', used, ticket) == 0 then
  if ticket > admitted then
    save()
    return reply('queued', ticket)
  end
  -- Admitted, but only for ticketTtlMs after the watermark passed it: an abandoned ticket
  -- must not keep a slot forever. The newest checkpoint older than the TTL tells.
  local old = redis.call('ZREVRANGEBYSCORE', marks, now - ticketTtlMs, '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if old[1] and ticket <= tonumber(old[1]) then
    redis.call('ZREMRANGEBYSCORE', marks, '-inf', '(' .. old[2])
    return enqueue('expired')
  end
  admittedByTicket = true
elseif issued > admitted then
  -- Others are waiting: a fresh arrival queues behind them, whatever the bucket holds.
  return enqueue()
elseif tokens >= 1 then
  tokens = tokens - 1
else
  return enqueue()
end

local function final(status, payload)
  redis.call('HSET', idem, key, requestHash .. '|' .. status .. '|' .. payload)
  if admittedByTicket then redis.call('SETBIT', used, ticket, 1) end
  save()
  return reply(status, payload)
end

local bought = tonumber(redis.call('HGET', buyers, userId) or '0')
if bought + quantity > perUserLimit then
  return final('limit_reached', cjson.encode({bought = bought, limit = perUserLimit}))
end
if quantity > remaining then
  save()
  return reply('insufficient', cjson.encode({remaining = remaining}))
end

remaining = redis.call('HINCRBY', sale, 'remaining', -quantity)
redis.call('HINCRBY', buyers, userId, quantity)
local order = '{"v":1,"type":"order","orderId":' .. cjson.encode(orderId) .. ',"saleId":' .. cjson.encode(saleId) ..
  ',"productId":' .. cjson.encode(productId) .. ',"userId":' .. cjson.encode(userId) ..
  ',"quantity":' .. quantity .. ',"idempotencyKey":' .. cjson.encode(key) ..
  ',"acceptedAt":' .. string.format('%d', now) .. '}'
local entry = redis.call('XADD', outbox, '*', 'order', order)
local r = final('accepted', order)
r[9] = entry
return r
`;
