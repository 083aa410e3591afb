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

/** GET / : every dependency probed, 503 when one does not answer. Mount it at /health. */
export const healthRoute = (service: string, probes: Record<string, Probe>): Hono =>
  new Hono().get("/", async (c) => {
    const report = await probeAll(service, probes);
    return c.json(report, healthStatusCode(report));
  });

/** GET / : Prometheus' text format. Mount it at /metrics. */
export const metricsRoute = (registry: Registry): Hono =>
  new Hono().get("/", async (c) => c.body(await registry.metrics(), 200, { "content-type": registry.contentType }));

/** /health and /metrics on one app, for a service whose port only operators reach (the worker). */
export const opsRoutes = (service: string, probes: Record<string, Probe>, registry: Registry): Hono =>
  new Hono().route("/health", healthRoute(service, probes)).route("/metrics", metricsRoute(registry));
