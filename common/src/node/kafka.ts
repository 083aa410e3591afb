import { Kafka, logLevel, type KafkaConfig, type logCreator } from "kafkajs";
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
