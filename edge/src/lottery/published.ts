import type { Redis } from "@upstash/redis/cloudflare";
import { LOTTERY_ALGORITHM, LOTTERY_ENTRY_LENGTH, LOTTERY_HOW, saleKeys, type SaleView } from "@fluxgate/common";
import type { SaleMemory } from "../memory";

/** Entries per GETRANGE of the drawn line: 1 MB a read. */
const READ_ENTRIES = 25_000;

/** What GET /sales/:productId/prequeue publishes once the line is drawn: everything a verifier needs. */
export interface PublishedDraw {
  productId: string;
  saleId: string;
  algorithm: typeof LOTTERY_ALGORITHM;
  how: string;
  commitment: string;
  seed: string;
  /** SHA-256 of the sorted entries (the draw's input besides the seed). */
  digest: string;
  startsAt: string;
  entries: number;
  /** Every entry in the order of its place: places[0] is place 1. */
  places: string[];
}

/**
 * The drawn line of a sale, read once per isolate and sale (it never changes once drawn; a
 * restarted sale has another saleId, and `view` is read fresh by the caller every time).
 */
export async function publishedDraw(
  redis: Redis,
  memory: SaleMemory,
  productId: string,
  view: SaleView & { prequeue: NonNullable<SaleView["prequeue"]> },
): Promise<string> {
  const cached = memory.publishedDraw(productId, view.saleId);
  if (cached) return cached;
  const k = saleKeys(productId);
  // Replies are raw (see redis.ts): HMGET answers the plain array of values.
  const [seed, digest] = (await redis.hmget(k.lottery, "seed", "digest")) as unknown as [string | null, string | null];
  // No entry is added after the start, so the count of entries is the count of places.
  const count = view.prequeue.entries;
  const places: string[] = [];
  for (let from = 0; from < count; from += READ_ENTRIES) {
    const text = String((await redis.getrange(k.draw, from * LOTTERY_ENTRY_LENGTH, Math.min(count, from + READ_ENTRIES) * LOTTERY_ENTRY_LENGTH - 1)) ?? "");
    for (let i = 0; i < text.length; i += LOTTERY_ENTRY_LENGTH) places.push(text.slice(i, i + LOTTERY_ENTRY_LENGTH));
  }
  const body: PublishedDraw = {
    productId,
    saleId: view.saleId,
    algorithm: LOTTERY_ALGORITHM,
    how: LOTTERY_HOW,
    commitment: view.prequeue.commitment,
    seed: String(seed ?? ""),
    digest: String(digest ?? ""),
    startsAt: new Date(view.startsAt).toISOString(),
    entries: places.length,
    places,
  };
  const text = JSON.stringify(body);
  memory.rememberPublishedDraw(productId, view.saleId, text);
  return text;
}
