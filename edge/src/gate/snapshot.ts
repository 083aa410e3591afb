import type { Redis } from "@upstash/redis/cloudflare";
import type { SaleSnapshot } from "./gate";
import { saleKeys } from "@fluxgate/common";

/** The sale's counters as they are in Redis now (one HMGET), or undefined when there is no sale. */
export async function readSnapshot(redis: Pick<Redis, "hmget">, productId: string): Promise<SaleSnapshot | undefined> {
  // Replies are raw (see redis.ts): HMGET answers the plain array of values.
  const [saleId, remaining, issued, admitted, rate, refilledAt, claimed, endsAt] = (await redis.hmget(saleKeys(productId).sale, "saleId", "remaining", "issued", "admitted", "rate", "refilledAt", "claimed", "endsAt")) as unknown as (string | null)[];
  if (!saleId) return undefined;
  return { saleId, remaining: Number(remaining), issued: Number(issued), admitted: Number(admitted), rate: Number(rate), at: Number(refilledAt), claimed: Number(claimed ?? 0), endsAt: Number(endsAt ?? 0) };
}
