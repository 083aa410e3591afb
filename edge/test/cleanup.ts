import { env } from "cloudflare:workers";
import { forgetSales } from "@fluxgate/common";
import { Redis } from "@upstash/redis/cloudflare";
import { afterAll } from "vitest";
import { createdProducts } from "./helpers";

// Test sales leave no keys behind, and their outboxes leave the relay's registry, so the stack's
// origin never ships test orders into the shared `orders` topic.
afterAll(async () => {
  if (createdProducts.size === 0) return;
  const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false });
  await forgetSales(redis, createdProducts);
  createdProducts.clear();
});
