import { healthStatusCode, probeAll, type Probe } from "@fluxgate/common";
import { Hono } from "hono";

export interface WorkerDeps {
  probes: { kafka: Probe; postgres: Probe };
}

export function createApp(deps: WorkerDeps): Hono {
  const app = new Hono();
  app.get("/health", async (c) => {
    const report = await probeAll("worker", deps.probes);
    return c.json(report, healthStatusCode(report));
  });
  app.notFound((c) => c.json({ error: "not found" }, 404));
  return app;
}
