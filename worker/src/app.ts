import type { Probe } from "@fluxgate/common";
import { bearerAccess, opsRoutes } from "@fluxgate/common/node";
import type { Hono } from "hono";
import type { Registry } from "prom-client";

export interface AppDeps {
  probes: { kafka: Probe; postgres: Probe };
  registry: Registry;
  /** Who may read /health's details (WORKER_HEALTH_TOKEN); unset: nobody, everyone gets up or down. */
  healthToken: string | undefined;
}

/** The worker's HTTP side: only health and metrics; its work comes from Kafka. */
export function createApp(deps: AppDeps): Hono {
  const app = opsRoutes("worker", deps.probes, deps.registry, bearerAccess(deps.healthToken));
  app.notFound((c) => c.json({ error: "not found" }, 404));
  return app;
}
