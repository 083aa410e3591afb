import { SignatureHeaders, verifyRequest, type Probe } from "@fluxgate/common";
import { healthRoute, metricsRoute, type DetailsAccess } from "@fluxgate/common/node";
import { Hono } from "hono";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { ordersRoute, type OrdersDeps } from "./routes/orders";
import { PIPELINE_PATH, pipelineRoute, type PipelineDeps } from "./routes/pipeline";

export interface AppDeps {
  orders: OrdersDeps;
  pipeline: PipelineDeps;
  probes: { kafka: Probe; redis: Probe };
  logger: Logger;
}

const withErrors = (app: Hono, logger: Logger) => {
  app.onError((err, c) => {
    logger.error({ err, path: c.req.path }, "unhandled origin error");
    return c.json({ error: "internal error" }, 500);
  });
  app.notFound((c) => c.json({ error: "not found" }, 404));
  return app;
};

export const HEALTH_PATH = "/health";

/**
 * The origin's details (Kafka's and Redis' state, their error texts) go to a request signed like
 * a forward (GET /health, ORIGIN_SIGNING_SECRET: what the edge and the operator's tools hold);
 * anyone else, a load balancer included, learns up or down.
 */
const signedAccess =
  (secret: string): DetailsAccess =>
  (c) =>
    verifyRequest(secret, c.req.header(SignatureHeaders.timestamp), c.req.header(SignatureHeaders.signature), { method: "GET", path: HEALTH_PATH, body: "" });

/** The public app: what the edge calls. */
export const createApp = (deps: AppDeps): Hono =>
  withErrors(
    new Hono()
      .route("/orders", ordersRoute(deps.orders))
      .route(PIPELINE_PATH, pipelineRoute(deps.pipeline))
      .route(HEALTH_PATH, healthRoute("origin", deps.probes, signedAccess(deps.orders.signingSecret))),
    deps.logger,
  );

/** The operators' app, on its own port (ORIGIN_METRICS_PORT): Prometheus' /metrics. */
export const createMetricsApp = (deps: { registry: Registry; logger: Logger }): Hono =>
  withErrors(new Hono().route("/metrics", metricsRoute(deps.registry)), deps.logger);
