import { createLogger, type Logger } from "./logger";
import { handleShutdown } from "./shutdown";
import { shutdownTracing } from "./tracing";

/** The one shape of a Node service (origin, worker, bridge): built from its config, started, stopped. */
export interface NodeService {
  /** Connects, listens, starts its loops; resolves with the address it serves. */
  start(): Promise<{ url: string }>;
  /** Stops taking work, drains, closes every connection. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * A service's main: one logger, SIGTERM/SIGINT → stop() (then the last spans exported), start; a failed start is logged and
 * exits 1 (the stack's `up` shows the log's last lines).
 */
export function runService(name: string, build: (logger: Logger) => NodeService): void {
  const logger = createLogger(name);
  let service: NodeService;
  try {
    service = build(logger);
  } catch (err) {
    logger.fatal({ err }, `${name} cannot start`);
    process.exit(1);
  }
  // Spans go out last: the service's own stop still ends some.
  handleShutdown(logger, [
    { name, run: () => service.stop() },
    { name: "traces", run: shutdownTracing },
  ]);
  service.start().then(
    (address) => logger.info(address, `${name} started`),
    (err: unknown) => {
      logger.fatal({ err }, `${name} failed to start`);
      process.exit(1);
    },
  );
}
