import { Hono } from "hono";
import { edgeConfig } from "../config";
import type { EdgeEnv } from "../env";
import { ProductId, saleKeys } from "@fluxgate/common";
import { redisFor } from "../redis";

export const sales = new Hono<EdgeEnv>().get("/:productId", async (c) => {
  const productId = ProductId.safeParse(c.req.param("productId"));
  if (!productId.success) return c.json({ error: productId.error.issues[0]?.message ?? "bad productId" }, 400);
  const redis = redisFor(edgeConfig(c.env));
  // The client keeps replies raw (see redis.ts), so HMGET answers the plain array of values.
  const reply = (await redis.hmget(saleKeys(productId.data).sale, "saleId", "quantity", "remaining", "issued", "admitted")) as unknown as (string | null)[];
  const [saleId, quantity, remaining, issued, admitted] = reply;
  if (!saleId) return c.json({ error: "unknown product", productId: productId.data }, 404);
  const q = Number(quantity);
  const left = Math.max(0, Number(remaining));
  // Once sold out nobody waits any more: the line is told so (from memory) and goes home.
  return c.json({ productId: productId.data, saleId, quantity: q, remaining: left, sold: q - left, queued: left > 0 ? Math.max(0, Number(issued) - Number(admitted)) : 0 });
});
