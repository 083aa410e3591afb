import { Hono } from "hono";
import { collectDefaultMetrics, Registry } from "prom-client";
import { healthStatusCode, probeAll, type Probe } from "../health";

/**
 * A service's own Prometheus registry (two services in one process never mix), with Node's
 * default metrics under the same `fluxgate_<service>_` prefix as the service's own.
 */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: `fluxgate_${service}_` });
  return registry;
}

/** GET /health (every dependency probed, 503 when one does not answer) and GET /metrics (Prometheus text). */
export function opsRoutes(service: string, probes: Record<string, Probe>, registry: Registry): Hono {
  return new Hono()
    .get("/health", async (c) => {
      const report = await probeAll(service, probes);
      return c.json(report, healthStatusCode(report));
    })
    .get("/metrics", async (c) => c.body(await registry.metrics(), 200, { "content-type": registry.contentType }));
}
