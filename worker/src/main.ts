import { createKafka, createLogger, handleShutdown } from "@fluxgate/common/node";
import { serve } from "@hono/node-server";
import pg from "pg";
import { createApp } from "./app";
import { loadConfig } from "./config";

const logger = createLogger("worker");
const config = loadConfig();

const pool = new pg.Pool({ connectionString: config.DATABASE_URL, max: 4 });
pool.on("error", (err) => logger.warn({ err }, "idle postgres client error"));
const kafka = createKafka("fluxgate-worker", config.KAFKA_BROKERS, logger);
const admin = kafka.admin();

const app = createApp({
  probes: {
    kafka: async () => {
      await admin.connect();
      await admin.describeCluster();
    },
    postgres: () => pool.query("select 1"),
  },
});

const server = serve({ fetch: app.fetch, hostname: config.WORKER_HOST, port: config.WORKER_PORT }, (info) =>
  logger.info({ url: `http://${info.address}:${info.port}` }, "worker health listening"),
);

handleShutdown(logger, [
  { name: "http", run: () => new Promise((resolve) => server.close(resolve)) },
  { name: "kafka", run: () => admin.disconnect() },
  { name: "postgres", run: () => pool.end() },
]);
