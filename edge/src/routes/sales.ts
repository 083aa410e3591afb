import { Hono } from "hono";
import { edgeConfig } from "../config";
import type { EdgeEnv } from "../env";
import { ProductId, saleKeys } from "@fluxgate/common";
import { runScript, scripts } from "../gate/scripts";
import { adminOnly } from "../http/admin";
import { memory } from "../memory";
import { announceOutbox } from "../outbox-registry";
import { redisFor } from "../redis";

export const sales = new Hono<EdgeEnv>()
  .get("/:productId", async (c) => {
  const productId = ProductId.safeParse(c.req.param("productId"));
  if (!productId.success) return c.json({ error: productId.error.issues[0]?.message ?? "bad productId" }, 400);
  const redis = redisFor(edgeConfig(c.env));
  // The client keeps replies raw (see redis.ts), so HMGET answers the plain array of values.
  const reply = (await redis.hmget(saleKeys(productId.data).sale, "saleId", "quantity", "remaining", "issued", "admitted", "endsAt")) as unknown as (string | null)[];
  const [saleId, quantity, remaining, issued, admitted, endsAt] = reply;
  if (!saleId) return c.json({ error: "unknown product", productId: productId.data }, 404);
  const q = Number(quantity);
  const left = Math.max(0, Number(remaining));
  // Once sold out nobody waits any more: the line is told so (from memory) and goes home.
  const end = Number(endsAt ?? 0);
  const ended = left === 0 || (end > 0 && Date.now() >= end);
  return c.json({
    productId: productId.data,
    saleId,
    quantity: q,
    remaining: left,
    sold: q - left,
    queued: left > 0 && !ended ? Math.max(0, Number(issued) - Number(admitted)) : 0,
    endsAt: end ? new Date(end).toISOString() : null,
    ended,
  });
})
  /** The operator ends the sale now: 409 "ended" for every purchase from then on, the outbox drains and is retired. */
  .post("/:productId/close", adminOnly, async (c) => {
    const productId = ProductId.safeParse(c.req.param("productId"));
    if (!productId.success) return c.json({ error: productId.error.issues[0]?.message ?? "bad productId" }, 400);
    const redis = redisFor(edgeConfig(c.env));
    const [saleId, endsAt] = await runScript<[string?, number?]>(redis, scripts.closeSale, [saleKeys(productId.data).sale], []);
    if (!saleId) return c.json({ error: "unknown product", productId: productId.data }, 404);
    await announceOutbox(redis, productId.data, "ended");
    // This isolate knows at once; the others on their next gate call, which answers "ended".
    memory.forget(productId.data);
    return c.json({ productId: productId.data, saleId, status: "ended", endsAt: new Date(Number(endsAt)).toISOString() });
  });
