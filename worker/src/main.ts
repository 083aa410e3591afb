import { createLogger, handleShutdown } from "@fluxgate/common/node";
import { serve } from "@hono/node-server";
import { loadConfig } from "./config";
import { createWorker } from "./worker";

const logger = createLogger("worker");
const config = loadConfig();
const worker = createWorker(config, logger);

const server = serve({ fetch: worker.app.fetch, hostname: config.WORKER_HOST, port: config.WORKER_PORT }, (info) =>
  logger.info({ url: `http://${info.address}:${info.port}` }, "worker health listening"),
);

handleShutdown(logger, [
  { name: "http", run: () => new Promise((resolve) => server.close(resolve)) },
  // The batch in flight commits, then the group is left and every connection closed.
  { name: "worker", run: () => worker.stop() },
]);

worker.start().catch((err: unknown) => {
  logger.fatal({ err }, "worker failed to start");
  process.exit(1);
});
