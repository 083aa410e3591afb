import { join } from "node:path";
import type { ITopicConfig } from "kafkajs";
import { Topics } from "@fluxgate/common";
import type { StackHome } from "../home";
import { originSideVersions } from "../versions";

/**
 * The pinned broker version, for the native stack and compose alike (docker-compose.yml x-versions):
 * the newest Apache Kafka release that our client, kafkajs 2.2.4, passes stack/test/kafka.test.ts against. Override with FLUXGATE_KAFKA_VERSION (4.x only: the
 * pom's logging binding is log4j2's; Kafka 3.x would need reload4j + slf4j-reload4j instead).
 *
 * Tried newest first (idempotent producer with acks -1, gzip; classic consumer group with
 * commits; per-key ordering over 6 partitions; admin createTopics, fetchTopicMetadata,
 * describeCluster, fetchOffsets (+ resolveOffsets), fetchTopicOffsets, setOffsets/resetOffsets,
 * describeConfigs, describeGroups, listGroups, deleteGroups, deleteTopics):
 *   4.4.0  all green → pinned. KIP-896 (4.0) removed only request versions older than the ones
 *          kafkajs negotiates (it picks the highest common version from ApiVersions).
 *   4.1.1  all green too (not needed as the fallback, nor 3.9.1).
 * Harmless and expected on a fresh broker: kafkajs logs one "coordinator is loading" error
 * while __consumer_offsets is created on the first group join, then retries and succeeds.
 */
export const KAFKA_VERSION = process.env.FLUXGATE_KAFKA_VERSION ?? originSideVersions().kafka;

export const KAFKA_DAEMON = "kafka";

export interface KafkaOptions {
  home: StackHome;
  /** PLAINTEXT listener for clients, 127.0.0.1 only. */
  port: number;
  /** KRaft controller listener, 127.0.0.1 only. */
  controllerPort: number;
  /** -Xms = -Xmx, in MiB. */
  heapMb: number;
  version: string;
}

export const KAFKA_DEFAULTS = { port: 9092, controllerPort: 9093, heapMb: 512, version: KAFKA_VERSION } as const;

/** What `up` creates: the order stream (6 partitions, keyed) and its dead-letter topic. */
export const FLUXGATE_TOPICS: TopicSpec[] = [
  { topic: Topics.orders, numPartitions: 6 },
  { topic: Topics.deadLetters, numPartitions: 1 },
];

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  configEntries?: ITopicConfig["configEntries"];
}

/** The client address of a broker started with these options. */
export const kafkaBrokers = (opts: Pick<KafkaOptions, "port"> = KAFKA_DEFAULTS): string[] => [`127.0.0.1:${opts.port}`];

/** Where the broker keeps its data and generated configuration under the stack's home. */
export function kafkaPaths(home: StackHome) {
  const dir = join(home.data, "kafka");
  return {
    dir,
    logDir: join(dir, "logs"),
    clusterIdFile: join(dir, "cluster.id"),
    serverProperties: join(home.run, "kafka-server.properties"),
  };
}
