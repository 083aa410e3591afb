/**
 * The real Apache Kafka broker, run natively as KRaft nodes (each broker + controller): one by
 * default, a replicated cluster of KAFKA_NODES (3, as production runs) when asked.
 *
 * There is no Docker here and no Kafka in npm or Debian, so the broker comes from Maven Central:
 * `mvn dependency:copy-dependencies` on stack/kafka/pom.xml copies kafka_2.13 and its runtime
 * classpath (plus the log4j2 binding) into <FLUXGATE_HOME>/kafka/<version>/libs, a cache that
 * survives `down`. We then run `java -cp 'libs/*' kafka.Kafka server.properties` as a daemon.
 *
 * Version choice (clients: kafkajs 2.2.4, whose newest request versions predate Kafka 3.0, while
 * Kafka 4.0 dropped the oldest protocol versions, KIP-896): see KAFKA_VERSION below.
 */
export { kafkaClusterId, runningKafkaDaemons, serverProperties, startKafka, stopKafka } from "./kafka/broker";
export { ensureTopics, quietKafka, waitKafkaReady } from "./kafka/client";
export {
  consoleDownloadProgress,
  ensureKafkaJars,
  kafkaLibsDir,
  parseMavenTransfer,
  type KafkaDownloadProgress,
  type KafkaProgressListener,
} from "./kafka/jars";
export {
  fluxgateTopics,
  KAFKA_DAEMON,
  KAFKA_DEFAULTS,
  KAFKA_VERSION,
  kafkaBrokers,
  kafkaDaemon,
  replication,
  type KafkaOptions,
  type TopicSpec,
} from "./kafka/settings";
export { javaCommand } from "./kafka/tools";
