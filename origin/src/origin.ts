import { hostname } from "node:os";
import type { AddressInfo } from "node:net";
import { RedisClients } from "@fluxgate/common";
import { createKafka, serviceTracer, type ShutdownStep } from "@fluxgate/common/node";
import { serve, type ServerType } from "@hono/node-server";
import type { Hono } from "hono";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { createApp, createMetricsApp } from "./app";
import type { OriginConfig } from "./config";
import { createMetrics } from "./metrics";
import { createAckBatcher } from "./outbox";
import { CommandCount } from "./lua/run";
import { createSaleEventProducer } from "./producer";
import { RecentForwards } from "./recent-forwards";
import { createRelay } from "./relay";

export interface Origin {
  /** POST /orders, GET /health: the port the edge calls. */
  app: Hono;
  /** GET /metrics, on a port of its own. */
  metricsApp: Hono;
  registry: Registry;
  /** Connects (in the background when a dependency is away), starts the relay, then listens on both ports. */
  start(): Promise<{ url: string; metricsUrl: string }>;
  /** The steps of a graceful stop, in order, for handleShutdown; each is safe to run twice. */
  shutdownSteps: ShutdownStep[];
  /** Runs shutdownSteps; safe to call twice. */
  stop(): Promise<void>;
}

const once = <T>(fn: () => Promise<T>) => {
  let result: Promise<T> | undefined;
  return () => (result ??= fn());
};

/**
 * The origin: POST /orders (signed forwards from the edge → Kafka), the outbox relay, /health, and
 * /metrics on a port of its own. main.ts and the tests build it the same way.
 */
export function createOrigin(config: OriginConfig, logger: Logger): Origin {
  const kafka = createKafka("fluxgate-origin", config.KAFKA_BROKERS, logger);
  const admin = kafka.admin();
  // The outbox lives in Redis; with no offline queue a command fails at once while redis is away
  // (the forward answers anyway, the relay backs off) and the client reconnects by itself.
  const redis = new Redis(config.REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    commandTimeout: 5000,
    // Named, so a bill of the shared database tells the origin's commands from the edge's.
    connectionName: RedisClients.forward,
  });
  redis.on("error", (err) => logger.debug({ err }, "redis connection error"));
  // What this connection sends is booked as the forward's (common/billing.ts): its confirmations, pings, handshakes.
  const forwardCommands = new CommandCount("forward");
  redis.on("ready", () => forwardCommands.sent(2));
  const producer = createSaleEventProducer(kafka, config.ORDERS_TOPIC, config.PRODUCE_TIMEOUT_MS, logger);
  const tracer = serviceTracer("origin");
  const metrics = createMetrics();
  const acks = createAckBatcher({
    redis,
    count: forwardCommands,
    flushMs: config.ACK_FLUSH_MS,
    maxBatch: 1000,
    logger: logger.child({ component: "forward" }),
    onConfirmed: (ids) => relay.confirmed(ids),
    // While the relay is active its step carries the confirmations: one command for both.
    deferred: () => relay.active,
    onFailed: (count) => metrics.outboxMarkFailures.inc(count),
  });

  const relay = createRelay({
    redis,
    producer,
    metrics,
    logger,
    registryKey: config.RELAY_OUTBOXES_KEY,
    consumer: `origin-${hostname()}`,
    minIdleMs: config.RELAY_MIN_IDLE_MS,
    readIntervalMs: config.RELAY_READ_INTERVAL_MS,
    blockMs: config.RELAY_BLOCK_MS,
    sweepMs: config.RELAY_SWEEP_MS,
    holdSweepMs: config.HOLD_SWEEP_INTERVAL_MS,
    acks,
    tracer,
  });

  const app = createApp({
    orders: {
      signingSecret: config.ORIGIN_SIGNING_SECRET,
      topic: config.ORDERS_TOPIC,
      producer,
      acks,
      metrics,
      logger,
      tracer,
      recent: new RecentForwards(),
      produced: (event) => relay.saw(event),
    },
    pipeline: { signingSecret: config.ORIGIN_SIGNING_SECRET, admin, topic: config.ORDERS_TOPIC, consumerGroup: config.WORKER_CONSUMER_GROUP, metrics },
    probes: {
      kafka: async () => {
        await admin.connect();
        await admin.describeCluster();
      },
      redis: () => {
        forwardCommands.sent();
        return redis.ping();
      },
    },
    logger,
  });
  const metricsApp = createMetricsApp({ registry: metrics.registry, logger });

  const servers: ServerType[] = [];

  const listen = (served: Hono, hostname: string, port: number) =>
    new Promise<string>((resolve, reject) => {
      const s = serve({ fetch: served.fetch, hostname, port }, (info: AddressInfo) =>
        resolve(`http://${info.family === "IPv6" ? `[${info.address}]` : info.address}:${info.port}`),
      );
      s.once("error", reject);
      servers.push(s);
    });
  const close = (s: ServerType) => new Promise<void>((resolve) => s.close(() => resolve()));

  const shutdownSteps: ShutdownStep[] = [
    // In-flight requests finish (their produce included); idle keep-alive connections close.
    { name: "http", run: once(async () => void (await Promise.all(servers.map(close)))) },
    { name: "outbox confirmations", run: () => acks.flush() },
    { name: "relay", run: () => relay.stop() },
    { name: "kafka", run: once(async () => Promise.all([producer.disconnect(), admin.disconnect()])) },
    { name: "redis", run: once(() => redis.quit().catch(() => redis.disconnect())) },
  ];

  const stop = once(async () => {
    for (const step of shutdownSteps) {
      try {
        await step.run();
      } catch (err) {
        logger.error({ err, step: step.name }, "origin shutdown step failed");
      }
    }
  });

  return {
    app,
    metricsApp,
    registry: metrics.registry,
    async start() {
      await redis.connect().catch((err: unknown) => logger.warn({ err }, "redis not reachable yet; reconnecting in the background"));
      producer.connect();
      relay.start();
      const address = {
        url: await listen(app, config.ORIGIN_HOST, config.ORIGIN_PORT),
        metricsUrl: await listen(metricsApp, config.ORIGIN_METRICS_HOST, config.ORIGIN_METRICS_PORT),
      };
      logger.info(
        { ...address, topic: config.ORDERS_TOPIC, relay: { registry: config.RELAY_OUTBOXES_KEY, minIdleMs: config.RELAY_MIN_IDLE_MS } },
        "origin listening",
      );
      return address;
    },
    shutdownSteps,
    stop,
  };
}
