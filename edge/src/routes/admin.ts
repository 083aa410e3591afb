import { ProductId } from "@fluxgate/common";
import { Hono } from "hono";
import page from "@fluxgate/waiting-room/operator.html";
import { edgeConfig } from "../config";
import type { EdgeEnv } from "../env";
import { readStats } from "../gate/stats";
import { adminOnly } from "../http/admin";
import { redisFor } from "../redis";

export const admin = new Hono<EdgeEnv>()
  // The page holds no data: it asks for the token and reads the figures below with it.
  .get("/", (c) => c.html(page))
  .get("/sales/:productId", adminOnly, async (c) => {
    const productId = ProductId.safeParse(c.req.param("productId"));
    if (!productId.success) return c.json({ error: productId.error.issues[0]?.message ?? "bad productId" }, 400);
    const stats = await readStats(redisFor(edgeConfig(c.env)), productId.data);
    return stats ? c.json(stats) : c.json({ error: "unknown product", productId: productId.data }, 404);
  });
