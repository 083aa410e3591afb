import { healthStatusCode, probeAll } from "@fluxgate/common";
import { Hono } from "hono";
import type { EdgeEnv } from "../env";
import { fetchOrigin } from "../forward";
import { identityMode } from "../identity";

export const health = new Hono<EdgeEnv>().get("/", async (c) => {
  const config = c.var.config;
  const report = await probeAll("edge", {
    upstash: () => c.var.redis.ping(),
    origin: async () => {
      const res = await fetchOrigin(config, "/health");
      await res.body?.cancel();
      if (!res.ok) throw new Error(`origin answered ${res.status}`);
    },
  });
  return c.json({ ...report, identity: identityMode(config) }, healthStatusCode(report));
});
