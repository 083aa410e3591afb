import type { AddressInfo } from "node:net";
import { createKafka, serviceTracer, type NodeService } from "@fluxgate/common/node";
import { serve, type ServerType } from "@hono/node-server";
import { Partitioners } from "kafkajs";
import type { Hono } from "hono";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { createApp } from "./app";
import type { WorkerConfig } from "./config";
import { createOrderConsumer, type WorkerHooks } from "./consumer";
import { createPool } from "./db";
import { startLagPoller } from "./lag";
import { createMetrics } from "./metrics";
import { migrate } from "./migrate";

export interface Worker extends NodeService {
  /** GET /health, GET /metrics (tests call app.request; start() serves it on WORKER_HOST:WORKER_PORT). */
  app: Hono;
  registry: Registry;
  /**
   * Migrates, connects, starts consuming (resolves before the group is joined), then serves
   * /health and /metrics. Resolves with their address.
   */
  start(): Promise<{ url: string }>;
  /** Closes the HTTP side, lets the batch in flight commit, leaves the group, closes every connection. Safe to call twice, and before start(). */
  stop(): Promise<void>;
}

/** The worker, in one piece: main.ts, the tests and the bench each build theirs from a config. */
export function createWorker(config: WorkerConfig, logger: Logger, hooks: WorkerHooks = {}): Worker {
  const pool = createPool(config, logger, config.WORKER_PARTITIONS_CONCURRENCY + 2);
  const kafka = createKafka("fluxgate-worker", config.KAFKA_BROKERS, logger);
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  const metrics = createMetrics();
  const consumer = createOrderConsumer({ kafka, pool, producer, config, metrics, logger, hooks, tracer: serviceTracer("worker") });

  let stopped = false;
  let starting: Promise<{ url: string }> | undefined;
  let server: ServerType | undefined;
  let stopping: Promise<void> | undefined;
  let stopLag: (() => Promise<void>) | undefined;

  const app = createApp({
    registry: metrics.registry,
    healthToken: config.WORKER_HEALTH_TOKEN,
    probes: {
      kafka: async () => {
        if (stopped) throw new Error("worker stopped");
        await admin.connect();
        await admin.describeCluster();
      },
      postgres: () => pool.query("SELECT 1"),
    },
  });

  const start = () =>
    (starting ??= (async () => {
      if (stopped) throw new Error("worker stopped");
      await migrate(pool, logger, config.DATABASE_SCHEMA);
      await Promise.all([producer.connect(), admin.connect()]);
      await consumer.start();
      stopLag = startLagPoller(admin, config.CONSUMER_GROUP, config.ORDERS_TOPIC, config.WORKER_LAG_INTERVAL_MS, metrics, logger);
      logger.info({ topic: config.ORDERS_TOPIC, group: config.CONSUMER_GROUP, schema: config.DATABASE_SCHEMA }, "worker consuming");
      const address = await new Promise<AddressInfo>((resolve, reject) => {
        server = serve({ fetch: app.fetch, hostname: config.WORKER_HOST, port: config.WORKER_PORT }, resolve);
        server.once("error", reject);
      });
      return { url: `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}` };
    })());

  const step = async (name: string, run: () => Promise<unknown> | undefined) => {
    try {
      await run();
    } catch (err) {
      logger.error({ err, step: name }, "worker stop step failed");
    }
  };

  const stop = () =>
    (stopping ??= (async () => {
      stopped = true;
      await starting?.catch(() => undefined);
      await step("http", () => (server ? new Promise((resolve) => server!.close(resolve)) : undefined));
      await step("lag", () => stopLag?.());
      await step("consumer", () => consumer.stop());
      await step("producer", () => producer.disconnect());
      await step("admin", () => admin.disconnect());
      await step("postgres", () => pool.end());
    })());

  return { app, registry: metrics.registry, start, stop };
}
