import { ProductId } from "@fluxgate/common";
import { Hono } from "hono";
import page from "@fluxgate/waiting-room/operator.html";
import type { EdgeEnv } from "../env";
import { readStats } from "../gate/stats";
import { adminOnly } from "../http/admin-auth";
import { identityMode } from "../identity";
import type { Isolate } from "../isolate";
import { readPipeline } from "../pipeline";

export const admin = (isolate: Isolate) =>
  new Hono<EdgeEnv>()
    // The page holds no data: it asks for the token and reads the figures below with it.
    .get("/", (c) => c.html(page))
    .get("/sales/:productId", adminOnly, async (c) => {
      const productId = ProductId.safeParse(c.req.param("productId"));
      if (!productId.success) return c.json({ error: productId.error.issues[0]?.message ?? "bad productId" }, 400);
      const config = c.var.config;
      const [stats, pipeline] = await Promise.all([readStats(c.var.redis, productId.data), readPipeline(config)]);
      if (!stats) return c.json({ error: "unknown product", productId: productId.data }, 404);
      // Upstash as the isolate that answered sees it (each isolate counts its own calls).
      return c.json({ ...stats, identity: identityMode(config), pipeline, upstash: { scope: "this edge isolate", ...isolate.upstash.summary() } });
    });
