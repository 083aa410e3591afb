import { env } from "cloudflare:workers";
import { OUTBOXES_KEY, saleKeys } from "@fluxgate/common";
import { Redis } from "@upstash/redis/cloudflare";
import { afterAll } from "vitest";
import { createdProducts } from "./helpers";

// Test sales leave no keys behind, and their outboxes leave the relay's registry, so the stack's
// origin never ships test orders into the shared `orders` topic.
afterAll(async () => {
  if (createdProducts.size === 0) return;
  const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false });
  const keys = [...createdProducts].map(saleKeys);
  await redis.srem(OUTBOXES_KEY, ...keys.map((k) => k.outbox));
  await redis.del(...keys.flatMap((k) => Object.values(k)));
  createdProducts.clear();
});
