import { healthStatusCode, probeAll } from "@fluxgate/common";
import { Hono } from "hono";
import { bearerIs } from "../http/admin-auth";
import type { EdgeEnv } from "../env";
import { fetchOrigin } from "../forward";
import { identityMode } from "../identity";
import type { Isolate } from "../isolate";

/**
 * GET /health: anyone learns up or down (`{"status":"ok"|"degraded"}`, 200 or 503), which is what
 * a load balancer needs; the details (each dependency, its error text, the issuer and its JWKS URL)
 * only with the admin token, since they tell an attacker where to aim. Either way the dependencies
 * are checked at most once per isolate per HEALTH_CACHE_MS (common/src/health.ts).
 */
export const health = (isolate: Isolate) =>
  new Hono<EdgeEnv>().get("/", async (c) => {
    const config = c.var.config;
    const report = await isolate.dependencies.check(config, () =>
      probeAll("edge", {
        upstash: () => c.var.redis.ping(),
        origin: async () => {
          const res = await fetchOrigin(config, "/health");
          await res.body?.cancel();
          if (!res.ok) throw new Error(`origin answered ${res.status}`);
        },
      }),
    );
    const status = healthStatusCode(report);
    if (!(await bearerIs(c.req.header("authorization"), config.ADMIN_TOKEN))) return c.json({ status: report.status }, status);
    return c.json({ ...report, identity: identityMode(config) }, status);
  });
