/**
 * Every key of a product shares the hash tag {productId}, so the gate's keys live in one slot and
 * one script can touch them all, on a single node or a cluster.
 */
export function saleKeys(productId: string) {
  const p = `fg:{${productId}}`;
  return {
    sale: `${p}:sale`,
    idem: `${p}:idem`,
    buyers: `${p}:buyers`,
    /**
     * HASH per buyer: "p:<userId>" -> their place in line (the one ticket a buyer holds, whatever
     * the number of keys), "k:<userId>" -> the Idempotency-Keys of their accepted orders, one a line.
     */
    ledger: `${p}:ledger`,
    outbox: `${p}:outbox`,
    marks: `${p}:marks`,
    /** One byte per ticket: the units an admitted ticket holds a claim on, 0 once used. */
    claims: `${p}:claims`,
    /** Bloom filters of the sale's accepted and queued Idempotency-Keys (see edge/src/gate/key-filter.ts). */
    acceptedKeys: `${p}:accepted-keys`,
    queuedKeys: `${p}:queued-keys`,
    stats: `${p}:stats`,
    /** ZSET challenge id -> expiry (ms): proof-of-work solutions already spent. */
    challenges: `${p}:challenges`,
    /** HASH entry -> units asked: the pre-queue, one entry per buyer (see lottery.ts). */
    prequeue: `${p}:prequeue`,
    /** HASH entry -> place in line, written by the draw at the start. */
    places: `${p}:places`,
    /** STRING the entries in the order of their places, 40 characters each (what GET /sales/:productId/prequeue publishes). */
    draw: `${p}:draw`,
    /** ZSET a held order's id -> when its hold expires (Redis' clock, ms): holds-lua.ts. */
    holds: `${p}:holds`,
    /** HASH a held order's id -> "<held|paid|expired|cancelled>|<order JSON>", kept after its end. */
    holdOrders: `${p}:hold-orders`,
    /** HASH an operator control's Idempotency-Key -> its answer (steer-sale.lua): a control applies once. */
    controls: `${p}:controls`,
    /** LIST the sale's latest operator controls, newest first (the operator's page). */
    events: `${p}:events`,
    /** HASH the lottery's secrets: `seed` (revealed once the line is drawn) and `salt` (of the entries, never revealed). */
    lottery: `${p}:lottery`,
  };
}
export type SaleKeys = ReturnType<typeof saleKeys>;

/**
 * The catalog of every product that has a sale: a SET of product ids, and a version that changes
 * whenever a product joins or leaves it. The sale's init script writes both in its one call;
 * an isolate keeps a copy (edge/src/product-catalog.ts) so a flood of made-up product ids is
 * answered from memory. Their own hash tag: the copy's refresh touches one slot.
 */
export const CATALOG_KEYS = {
  products: "fg:{catalog}:products",
  version: "fg:{catalog}:version",
} as const;

/** The set of every sale's outbox stream, for the origin's relay. */
export const OUTBOXES_KEY = "fg:outboxes";

/**
 * The stream that tells the origin's relay, in its one blocking read, that a sale opened or ended
 * (field `opened` or `ended`, value the outbox stream key), so it never polls the registry. One per
 * registry: tests relay a registry of their own.
 */
export const outboxEventsKey = (registryKey: string = OUTBOXES_KEY) => `${registryKey}:events`;

/**
 * An outbox entry has one field: `order` (an OrderMessage) or `sale` (a SaleStarted or a SaleSteered), the JSON
 * exactly as produced to Kafka. The origin's relay reads them with this consumer group.
 */
export const Outbox = {
  orderField: "order",
  saleField: "sale",
  relayGroup: "relay",
  /** Fields of an entry in the registry's events stream (outboxEventsKey). */
  openedField: "opened",
  endedField: "ended",
} as const;

/** The commands forgetting a sale takes; ioredis and @upstash/redis both fit. */
export interface KeyRemover {
  srem(key: string, ...members: string[]): Promise<unknown>;
  unlink(...keys: string[]): Promise<unknown>;
  set(key: string, value: string): Promise<unknown>;
}

/**
 * Removes every key of these products' sales and takes their outboxes out of the relay's
 * registry and the products out of the catalog: what tests, benches and profiles do after a sale
 * of their own, so the stack's origin never ships their orders into the shared `orders` topic.
 */
export async function forgetSales(redis: KeyRemover, productIds: Iterable<string>): Promise<void> {
  const ids = [...productIds];
  const keys = ids.map(saleKeys);
  if (keys.length === 0) return;
  await redis.srem(OUTBOXES_KEY, ...keys.map((k) => k.outbox));
  // A version never used before tells every isolate's copy that the catalog changed (dropping the
  // key would not: an isolate that read the catalog while it had no version would take it for the same).
  await redis.srem(CATALOG_KEYS.products, ...ids);
  await redis.set(CATALOG_KEYS.version, `forgotten-${crypto.randomUUID()}`);
  // UNLINK: a sale of 100,000 entries is megabytes; redis frees it in the background instead of stalling every client.
  await redis.unlink(...keys.flatMap((k) => Object.values(k)));
}
