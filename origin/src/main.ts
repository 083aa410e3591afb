import { createKafka, createLogger, handleShutdown } from "@fluxgate/common/node";
import { serve } from "@hono/node-server";
import { Redis } from "ioredis";
import { createApp } from "./app";
import { loadConfig } from "./config";

const logger = createLogger("origin");
const config = loadConfig();

const kafka = createKafka("fluxgate-origin", config.KAFKA_BROKERS, logger);
const admin = kafka.admin();
// The outbox lives in Redis; a lazy client keeps the origin up (and /health honest) while redis is away.
const redis = new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
redis.on("error", (err) => logger.debug({ err }, "redis connection error"));
redis.connect().catch(() => undefined);

const app = createApp({
  probes: {
    kafka: async () => {
      await admin.connect();
      await admin.describeCluster();
    },
    redis: () => redis.ping(),
  },
});

const server = serve({ fetch: app.fetch, hostname: config.ORIGIN_HOST, port: config.ORIGIN_PORT }, (info) =>
  logger.info({ url: `http://${info.address}:${info.port}` }, "origin listening"),
);

handleShutdown(logger, [
  { name: "http", run: () => new Promise((resolve) => server.close(resolve)) },
  { name: "kafka", run: () => admin.disconnect() },
  { name: "redis", run: () => redis.quit() },
]);
