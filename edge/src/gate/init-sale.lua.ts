/**
 * Starts (or restarts) a sale: a fresh saleId, full stock, a full bucket, an empty queue, and a
 * "sale" event in the outbox so the worker creates the sale's stock row before any of its orders.
 * The outbox itself is kept: entries of an earlier run may still be on their way to Kafka.
 *
 * KEYS[1] sale    HASH
 * KEYS[2] idem    HASH
 * KEYS[3] buyers  HASH
 * KEYS[4] marks   ZSET
 * KEYS[5] used    BITMAP
 * KEYS[6] outbox  STREAM
 * KEYS[7] stats   HASH
 * ARGV[1] saleId
 * ARGV[2] quantity
 * ARGV[3] ratePerSecond
 * ARGV[4] burst
 * ARGV[5] perUserLimit
 * ARGV[6] startsAt       ms since the epoch, 0 to start now
 * ARGV[7] ticketTtlMs    how long an admitted ticket stays valid
 * ARGV[8] productId
 * ARGV[9] powDifficulty  proof-of-work bits a fresh attempt must bring, 0 = off
 *
 * Returns { createdAt (Redis' clock, ms), sale event JSON, outbox entry id }.
 */
export const initSaleLua = `
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[7])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'saleId', ARGV[1], 'quantity', ARGV[2], 'remaining', ARGV[2], 'rate', ARGV[3],
  'burst', ARGV[4], 'perUserLimit', ARGV[5], 'startsAt', ARGV[6], 'ticketTtlMs', ARGV[7], 'powDifficulty', ARGV[9],
  'tokens', ARGV[4], 'refilledAt', now, 'issued', 0, 'admitted', 0, 'createdAt', now)
local event = '{"v":1,"type":"sale","saleId":' .. cjson.encode(ARGV[1]) .. ',"productId":' .. cjson.encode(ARGV[8]) ..
  ',"quantity":' .. ARGV[2] .. ',"perUserLimit":' .. ARGV[5] .. ',"startedAt":' .. string.format('%d', now) .. '}'
local entry = redis.call('XADD', KEYS[6], '*', 'sale', event)
return {now, event, entry}
`;
