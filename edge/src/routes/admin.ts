import { ProductId } from "@fluxgate/common";
import { Hono } from "hono";
import page from "@fluxgate/waiting-room/operator.html";
import type { EdgeEnv } from "../env";
import { readStats } from "../gate/stats";
import { adminOnly } from "../http/admin-auth";
import { identityMode } from "../identity";

export const admin = new Hono<EdgeEnv>()
  // The page holds no data: it asks for the token and reads the figures below with it.
  .get("/", (c) => c.html(page))
  .get("/sales/:productId", adminOnly, async (c) => {
    const productId = ProductId.safeParse(c.req.param("productId"));
    if (!productId.success) return c.json({ error: productId.error.issues[0]?.message ?? "bad productId" }, 400);
    const config = c.var.config;
    const stats = await readStats(c.var.redis, productId.data);
    return stats ? c.json({ ...stats, identity: identityMode(config) }) : c.json({ error: "unknown product", productId: productId.data }, 404);
  });
