import { healthStatusCode, probeAll, type Probe } from "@fluxgate/common";
import { Hono } from "hono";

export interface OriginDeps {
  probes: { kafka: Probe; redis: Probe };
}

export function createApp(deps: OriginDeps): Hono {
  const app = new Hono();
  app.get("/health", async (c) => {
    const report = await probeAll("origin", deps.probes);
    return c.json(report, healthStatusCode(report));
  });
  app.notFound((c) => c.json({ error: "not found" }, 404));
  return app;
}
