import type { Admin } from "kafkajs";
import type { Logger } from "pino";
import type { WorkerMetrics } from "./metrics";

/** high watermark − committed offset, per partition (from the low watermark when nothing is committed yet). */
export async function consumerLag(admin: Admin, groupId: string, topic: string): Promise<Map<number, number>> {
  const [committed, latest] = await Promise.all([admin.fetchOffsets({ groupId, topics: [topic] }), admin.fetchTopicOffsets(topic)]);
  const done = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  const lag = new Map<number, number>();
  for (const p of latest) {
    const from = done.get(p.partition) ?? -1;
    lag.set(p.partition, Number(p.high) - (from >= 0 ? from : Number(p.low)));
  }
  return lag;
}

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
