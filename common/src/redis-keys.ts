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
    outbox: `${p}:outbox`,
    marks: `${p}:marks`,
    used: `${p}:used`,
    stats: `${p}:stats`,
    /** ZSET challenge id -> expiry (ms): proof-of-work solutions already spent. */
    challenges: `${p}:challenges`,
  };
}
export type SaleKeys = ReturnType<typeof saleKeys>;

/** The set of every sale's outbox stream, for the origin's relay. */
export const OUTBOXES_KEY = "fg:outboxes";

/**
 * An outbox entry has one field: `order` (an OrderMessage) or `sale` (a SaleStarted), the JSON
 * exactly as produced to Kafka. The origin's relay reads them with this consumer group.
 */
export const Outbox = {
  orderField: "order",
  saleField: "sale",
  relayGroup: "relay",
} as const;
