import { consumerLag } from "@fluxgate/common/node";
import { SignatureHeaders, verifyRequest } from "@fluxgate/common";
import { Hono } from "hono";
import type { Admin } from "kafkajs";
import type { OriginMetrics } from "../metrics";

export interface PipelineDeps {
  signingSecret: string;
  admin: Admin;
  topic: string;
  /** The worker's consumer group, whose lag is read. */
  consumerGroup: string;
  metrics: OriginMetrics;
}

/** How long one reading stands: an operator's page polling every second from many tabs asks Kafka once. */
const READING_MS = 1_000;

export const PIPELINE_PATH = "/pipeline";

/**
 * GET /pipeline, signed by the edge like a forward: what stands between an accepted order and its
 * row, for the operator's page. The outbox backlog (entries the relay saw and nothing confirmed
 * yet) and the worker's consumer lag on the orders topic; `null` when Kafka cannot say right now.
 * No Redis command: the backlog is the relay's own count.
 */
export function pipelineRoute(deps: PipelineDeps): Hono {
  let reading: { at: number; body: Promise<object> } | undefined;
  const read = async () => {
    const backlog = (await deps.metrics.backlog.get()).values[0]?.value ?? 0;
    const lag = await consumerLag(deps.admin, deps.consumerGroup, deps.topic).catch(() => undefined);
    return {
      outboxBacklog: backlog,
      consumerLag: lag ? [...lag.values()].reduce((a, b) => a + b, 0) : null,
      consumerLagByPartition: lag ? Object.fromEntries(lag) : null,
      at: new Date().toISOString(),
    };
  };
  return new Hono().get("/", async (c) => {
    const ok = await verifyRequest(deps.signingSecret, c.req.header(SignatureHeaders.timestamp), c.req.header(SignatureHeaders.signature), {
      method: "GET",
      path: PIPELINE_PATH,
      body: "",
    });
    if (!ok) return c.json({ error: "signed requests only" }, 401);
    if (!reading || Date.now() - reading.at >= READING_MS) reading = { at: Date.now(), body: read() };
    return c.json(await reading.body);
  });
}
