import { healthStatusCode, probeAll, type Probe } from "@fluxgate/common";
import { Hono } from "hono";
import type { Registry } from "prom-client";

/** GET /health: each dependency probed, 503 when one does not answer. */
export const healthRoute = (probes: { kafka: Probe; redis: Probe }) =>
  new Hono().get("/", async (c) => {
    const report = await probeAll("origin", probes);
    return c.json(report, healthStatusCode(report));
  });

/** GET /metrics: Prometheus text format. */
export const metricsRoute = (registry: Registry) =>
  new Hono().get("/", async (c) => c.body(await registry.metrics(), 200, { "content-type": registry.contentType }));
