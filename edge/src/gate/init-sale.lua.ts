import { BILL_KEY, billTotalField, CATALOG_KEYS, saleStartedLua, type SaleKeys } from "@fluxgate/common";

/** The KEYS of init-sale, in the script's order. */
export const initSaleKeys = (k: SaleKeys) => [
  k.sale,
  k.idem,
  k.buyers,
  k.marks,
  k.claims,
  k.outbox,
  k.stats,
  k.acceptedKeys,
  k.queuedKeys,
  k.prequeue,
  k.places,
  k.draw,
  k.lottery,
  k.ledger,
  k.controls,
  k.events,
  k.holds,
  k.holdOrders,
  CATALOG_KEYS.products,
  CATALOG_KEYS.version,
  BILL_KEY,
];

/** The stats fields where a sale keeps the origin's running totals at its start (stats.ts reads its share off them). */
export const originAtStartField = (component: "forward" | "relay") => `originAtStart:${component}`;

/**
 * Starts (or restarts) a sale: a fresh saleId, full stock, a full bucket, an empty queue, no
 * claims, empty key filters, and a "sale" event in the outbox so the worker creates the sale's
 * stock row before any of its orders. The outbox itself is kept: entries of an earlier run may
 * still be on their way to Kafka. The product joins the catalog in the same call (no command of
 * its own), and the origin's running totals are noted in its stats, for its share of the bill; those
 * keys are outside the sale's slot, as the relay's registry is.
 *
 * KEYS[1] sale          HASH
 * KEYS[2] idem          HASH
 * KEYS[3] buyers        HASH
 * KEYS[4] marks         ZSET
 * KEYS[5] claims        STRING
 * KEYS[6] outbox        STREAM
 * KEYS[7] stats         HASH
 * KEYS[8] acceptedKeys  STRING
 * KEYS[9] queuedKeys    STRING
 * KEYS[10] prequeue     HASH
 * KEYS[11] places       HASH
 * KEYS[12] draw         STRING
 * KEYS[13] lottery      HASH
 * KEYS[14] ledger       HASH
 * KEYS[15] controls     HASH
 * KEYS[16] events       LIST
 * KEYS[17] holds        ZSET
 * KEYS[18] holdOrders   HASH
 * KEYS[19] catalog      SET     every product with a sale (common/redis-keys.ts CATALOG_KEYS)
 * KEYS[20] catalogVersion STRING  changes when a product joins the catalog
 * KEYS[21] bill         HASH    the origin's booked commands (common/billing.ts): their totals now
 * ARGV[1] saleId
 * ARGV[2] quantity
 * ARGV[3] ratePerSecond  may be fractional (one admission every few seconds)
 * ARGV[4] burst
 * ARGV[5] perUserLimit
 * ARGV[6] startsAt       ms since the epoch, 0 to start now
 * ARGV[7] ticketTtlMs    how long an admitted ticket stays valid
 * ARGV[8] productId
 * ARGV[9] filterBitsPerKey  Bloom filter size per unit of stock (key-filter.ts)
 * ARGV[10] endsAt        ms since the epoch; 0 or absent for a sale that ends only when sold out or closed
 * ARGV[11] powDifficulty proof-of-work bits a fresh attempt must bring, 0 = off
 * ARGV[12] prequeueOpensAt  ms since the epoch when the pre-queue opens (before startsAt), 0 = no pre-queue
 * ARGV[13] commitment    SHA-256 of the lottery's seed (public)
 * ARGV[14] seed          the lottery's seed (secret until the line is drawn)
 * ARGV[15] salt          the entries' salt (secret)
 * ARGV[16] holdMs        how long an accepted order is held for payment, 0 = accepted is final
 *
 * Returns { createdAt (Redis' clock, ms), sale event JSON, outbox entry id }.
 */
export const initSaleLua = `
-- UNLINK: the old run's keys may be large (a pre-queue of 100,000); redis frees them in the background.
redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13], KEYS[14], KEYS[15], KEYS[16], KEYS[17], KEYS[18])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Accepted keys are at most the stock; queued keys run a few times that. 7 usable bits a byte, at most 1 MiB.
local bitsPerKey = tonumber(ARGV[9])
local function bytesFor(keys) return math.ceil(math.min(math.max(keys * bitsPerKey, 1024), 7 * 1048576) / 7) end
redis.call('HSET', KEYS[1], 'saleId', ARGV[1], 'quantity', ARGV[2], 'remaining', ARGV[2], 'rate', ARGV[3],
  'burst', ARGV[4], 'perUserLimit', ARGV[5], 'startsAt', ARGV[6], 'ticketTtlMs', ARGV[7], 'endsAt', ARGV[10] or 0, 'powDifficulty', ARGV[11] or 0,
  'holdMs', ARGV[16] or 0, 'held', 0, 'paid', 0, 'released', 0,
  'tokens', ARGV[4], 'refilledAt', now, 'issued', 0, 'admitted', 0, 'claimed', 0, 'expired', 0, 'createdAt', now,
  -- With holds, units an expired hold gave back sell again: room for twice the stock's accepted keys.
  'acceptedBytes', bytesFor(tonumber(ARGV[2]) * ((tonumber(ARGV[16] or '0') or 0) > 0 and 2 or 1)), 'queuedBytes', bytesFor(4 * tonumber(ARGV[2])))
local prequeueOpensAt = tonumber(ARGV[12] or '0') or 0
if prequeueOpensAt > 0 then
  redis.call('HSET', KEYS[1], 'prequeueOpensAt', prequeueOpensAt, 'commitment', ARGV[13], 'prequeueEntries', 0)
  redis.call('HSET', KEYS[13], 'seed', ARGV[14], 'salt', ARGV[15])
end
local event = ${saleStartedLua({ saleId: "ARGV[1]", productId: "ARGV[8]", quantity: "ARGV[2]", perUserLimit: "ARGV[5]", startedAt: "now" })}
local entry = redis.call('XADD', KEYS[6], '*', 'sale', event)
-- The origin's running totals now: this sale's share of them is what they grow by from here (stats.ts).
local origin = redis.call('HMGET', KEYS[21], '${billTotalField("forward")}', '${billTotalField("relay")}')
redis.call('HSET', KEYS[7], '${originAtStartField("forward")}', origin[1] or 0, '${originAtStartField("relay")}', origin[2] or 0)
-- A new product changes the catalog's version (to this run's saleId, unique), so isolates fetch it again.
if redis.call('SADD', KEYS[19], ARGV[8]) == 1 then redis.call('SET', KEYS[20], ARGV[1]) end
return {now, event, entry}
`;
