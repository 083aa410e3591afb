import type { Redis } from "@upstash/redis/cloudflare";
import { parseSaleView, SALE_VIEW_FIELDS, saleKeys, type SaleView } from "@fluxgate/common";

/** The sale hash as it is in Redis now (one HMGET), or undefined when there is no sale. */
export async function readSaleView(redis: Pick<Redis, "hmget">, productId: string): Promise<SaleView | undefined> {
  // Replies are raw (see redis.ts): HMGET answers the plain array of values, typed by the client as an object.
  return parseSaleView((await redis.hmget(saleKeys(productId).sale, ...SALE_VIEW_FIELDS)) as unknown as (string | null)[]);
}
