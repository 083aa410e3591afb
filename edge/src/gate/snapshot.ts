import type { Redis } from "@upstash/redis/cloudflare";
import { parseSaleView, SALE_VIEW_FIELDS, saleKeys, type SaleView } from "@fluxgate/common";
import type { SaleSnapshot } from "./gate";

/** The sale hash as it is in Redis now (one HMGET), or undefined when there is no sale. */
export async function readSaleView(redis: Pick<Redis, "hmget">, productId: string): Promise<SaleView | undefined> {
  // Replies are raw (see redis.ts): HMGET answers the plain array of values, typed by the client as an object.
  return parseSaleView((await redis.hmget(saleKeys(productId).sale, ...SALE_VIEW_FIELDS)) as unknown as (string | null)[]);
}

/** The sale's counters as the gate would report them (one HMGET), or undefined when there is no sale. */
export async function readSnapshot(redis: Pick<Redis, "hmget">, productId: string): Promise<SaleSnapshot | undefined> {
  const sale = await readSaleView(redis, productId);
  if (!sale) return undefined;
  const { saleId, remaining, issued, admitted, rate, refilledAt, claimed, endsAt } = sale;
  return { saleId, remaining, issued, admitted, rate, at: refilledAt, claimed, endsAt };
}
