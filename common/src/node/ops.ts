import { Hono, type Context } from "hono";
import { timingSafeEqual } from "hono/utils/buffer";
import { collectDefaultMetrics, Registry } from "prom-client";
import { DependencyHealth, healthStatusCode, probeAll, type Probe } from "../health";

/**
 * A service's own Prometheus registry (two services in one process never mix), with Node's
 * default metrics under the same `fluxgate_<service>_` prefix as the service's own.
 */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: `fluxgate_${service}_` });
  return registry;
}

/** Whether a /health request may read the details (which dependency failed, and its error text). */
export type DetailsAccess = (c: Context) => boolean | Promise<boolean>;

/** Details for `Authorization: Bearer <token>` only; nobody, when no token is set. */
export const bearerAccess =
  (token: string | undefined): DetailsAccess =>
  async (c) => {
    const sent = c.req.header("authorization")?.match(/^Bearer (.+)$/)?.[1];
    return token !== undefined && sent !== undefined && (await timingSafeEqual(sent, token));
  };

/**
 * GET / : anyone learns up or down (`{"status":"ok"|"degraded"}`, 200 or 503), what a load
 * balancer or a container's healthcheck needs; the report (each dependency, its error text) only a
 * request `details` lets through, since it tells an attacker where to aim. The dependencies are
 * probed at most once per HEALTH_CACHE_MS, however many ask. Mount it at /health.
 */
export const healthRoute = (service: string, probes: Record<string, Probe>, details: DetailsAccess): Hono => {
  const last = new DependencyHealth();
  return new Hono().get("/", async (c) => {
    const report = await last.check(probes, () => probeAll(service, probes));
    const status = healthStatusCode(report);
    return (await details(c)) ? c.json(report, status) : c.json({ status: report.status }, status);
  });
};

/** GET / : Prometheus' text format. Mount it at /metrics. */
export const metricsRoute = (registry: Registry): Hono =>
  new Hono().get("/", async (c) => c.body(await registry.metrics(), 200, { "content-type": registry.contentType }));

/** /health and /metrics on one app, for a service whose port only operators reach (the worker). */
export const opsRoutes = (service: string, probes: Record<string, Probe>, registry: Registry, details: DetailsAccess): Hono =>
  new Hono().route("/health", healthRoute(service, probes, details)).route("/metrics", metricsRoute(registry));
