import type { Logger } from "pino";

export type ShutdownStep = { name: string; run: () => Promise<unknown> | unknown };

/**
 * The one place a Node service stops: on SIGTERM/SIGINT it runs `steps` in order (stop taking work,
 * drain, close connections), then exits 0. A step that hangs past `timeoutMs` gets the process
 * exited with 1 instead of being killed mid-write later; a second signal forces that at once.
 * Returns `stop`, which is safe to call more than once.
 */
export function handleShutdown(logger: Logger, steps: ShutdownStep[], timeoutMs = 15_000): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      const timer = setTimeout(() => {
        logger.error({ timeoutMs }, "shutdown timed out, exiting");
        process.exit(1);
      }, timeoutMs);
      timer.unref();
      for (const step of steps) {
        try {
          await step.run();
        } catch (error) {
          logger.error({ err: error, step: step.name }, "shutdown step failed");
        }
      }
      clearTimeout(timer);
      logger.info("stopped");
    })();
    return stopping;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal, exiting now");
      process.exit(1);
    }
    logger.info({ signal }, "shutting down");
    void stop().then(() => process.exit(0));
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  return stop;
}
