import { healthStatusCode, probeAll, type Probe } from "@fluxgate/common";
import { Hono } from "hono";
import type { Registry } from "prom-client";

export interface AppDeps {
  probes: { kafka: Probe; postgres: Probe };
  registry: Registry;
}

/** The worker's HTTP side: only health and metrics; its work comes from Kafka. */
export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.get("/health", async (c) => {
    const report = await probeAll("worker", deps.probes);
    return c.json(report, healthStatusCode(report));
  });
  app.get("/metrics", async (c) => c.body(await deps.registry.metrics(), 200, { "content-type": deps.registry.contentType }));
  app.notFound((c) => c.json({ error: "not found" }, 404));
  return app;
}
