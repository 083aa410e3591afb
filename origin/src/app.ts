import type { Probe } from "@fluxgate/common";
import { healthRoute, metricsRoute } from "@fluxgate/common/node";
import { Hono } from "hono";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { ordersRoute, type OrdersDeps } from "./routes/orders";

export interface AppDeps {
  orders: OrdersDeps;
  probes: { kafka: Probe; redis: Probe };
  registry: Registry;
  logger: Logger;
}

export function createApp(deps: AppDeps): Hono {
  const app = new Hono()
    .route("/orders", ordersRoute(deps.orders))
    .route("/health", healthRoute("origin", deps.probes))
    .route("/metrics", metricsRoute(deps.registry));
  app.onError((err, c) => {
    deps.logger.error({ err, path: c.req.path }, "unhandled origin error");
    return c.json({ error: "internal error" }, 500);
  });
  app.notFound((c) => c.json({ error: "not found" }, 404));
  return app;
}
