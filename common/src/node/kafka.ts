import { type Admin, Kafka, logLevel, type KafkaConfig, type logCreator } from "kafkajs";
import type { Logger } from "pino";

const levels: Record<number, "error" | "warn" | "info" | "debug"> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

/** kafkajs logs through the service's pino logger, so one log stream tells the whole story. */
const pinoLogCreator =
  (logger: Logger): logCreator =>
  () =>
  ({ level, log }) => {
    const { message, ...extra } = log;
    logger[levels[level] ?? "info"]({ kafka: extra }, message);
  };

export function createKafka(clientId: string, brokers: string[], logger: Logger, extra: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(logger.child({ component: "kafkajs" })),
    ...extra,
  });
}

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
