import { consumerLag } from "@fluxgate/common/node";
import type { Admin } from "kafkajs";
import type { Logger } from "pino";
import type { WorkerMetrics } from "./metrics";

/** Refreshes the lag gauge every `intervalMs`; returns the function that stops it. */
export function startLagPoller(admin: Admin, groupId: string, topic: string, intervalMs: number, metrics: WorkerMetrics, logger: Logger) {
  let running: Promise<void> | undefined;
  const poll = () => {
    running ??= consumerLag(admin, groupId, topic)
      .then((lag) => {
        for (const [partition, value] of lag) metrics.lag.set({ partition: String(partition) }, value);
      })
      .catch((err: unknown) => logger.debug({ err }, "consumer lag not available"))
      .finally(() => {
        running = undefined;
      });
  };
  poll();
  const timer = setInterval(poll, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
