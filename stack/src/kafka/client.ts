import { Kafka, logLevel, type Admin } from "kafkajs";
import { logFile, runningDaemon, tailOfFile, waitFor } from "../daemon";
import type { StackHome } from "../home";
import { kafkaClusterId } from "./broker";
import { kafkaDaemon, type TopicSpec } from "./settings";

/** A kafkajs client that stays quiet: connection errors while polling are expected (and not retried unless `retries` says). */
export function quietKafka(brokers: string[], clientId = "fluxgate-stack", retries = 0): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 10_000,
    retry: { retries },
  });
}

/**
 * Waits until the cluster answers a kafkajs admin Metadata request (not merely an open port) and
 * counts `nodes` brokers (a topic with 3 replicas cannot be created on fewer). With `home` it also
 * makes sure that the brokers answering are ours: it fails at once, with the end of the node's
 * log, when one of our daemons has died (a port taken, a Java too old...) or when the broker on
 * that port belongs to another cluster (another Kafka already listening there).
 */
export async function waitKafkaReady(brokers: string[], timeoutMs = 90_000, opts: { home?: StackHome; nodes?: number } = {}): Promise<void> {
  const kafka = quietKafka(brokers, "fluxgate-stack-ready");
  const { home, nodes = 1 } = opts;
  const daemons = Array.from({ length: nodes }, (_, i) => kafkaDaemon(nodes, i + 1));
  const log = home ? logFile(home, daemons[0]!) : undefined;
  let fatal: Error | undefined;
  try {
    await waitFor(
      `Kafka at ${brokers.join(",")}`,
      async () => {
        const dead = home && daemons.find((name) => !runningDaemon(home, name));
        if (home && dead) {
          fatal = new Error(`Kafka node ${dead} exited during start-up; the end of ${logFile(home, dead)}:\n${tailOfFile(logFile(home, dead))}`);
          return true;
        }
        const admin = kafka.admin();
        try {
          await admin.connect();
          const cluster = await admin.describeCluster(); // a Metadata request
          const ours = home ? kafkaClusterId(home, nodes) : undefined;
          if (ours && cluster.clusterId !== ours) {
            fatal = new Error(
              `another Kafka (cluster ${cluster.clusterId}) answers on ${brokers.join(",")}, not ours (cluster ${ours}): ` +
                `stop it or move ours (KAFKA_PORT / KAFKA_CONTROLLER_PORT); the end of ${log}:\n${tailOfFile(log!, 10)}`,
            );
            return true;
          }
          return cluster.brokers.length >= nodes;
        } finally {
          await admin.disconnect().catch(() => undefined);
        }
      },
      timeoutMs,
      500,
    );
  } catch (error) {
    if (log && error instanceof Error) error.message += `\nthe end of ${log}:\n${tailOfFile(log, 15)}`;
    throw error;
  }
  if (fatal) throw fatal;
}

/** Creates the topics that are missing; existing ones are left as they are. Returns those created. */
export async function ensureTopics(brokers: string[], topics: TopicSpec[]): Promise<string[]> {
  // Retried: kafkajs tries one bootstrap broker per attempt.
  const admin: Admin = quietKafka(brokers, "fluxgate-stack-topics", 8).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      await admin.createTopics({
        topics: missing.map((t) => ({
          topic: t.topic,
          numPartitions: t.numPartitions,
          replicationFactor: t.replicationFactor ?? 1,
          configEntries: t.configEntries,
        })),
        // Awaited below instead: kafkajs gives up at once when the node it asks has not learnt of
        // the new topic yet, as happens in a cluster.
        waitForLeaders: false,
      });
    }
    // createTopics ignores TOPIC_ALREADY_EXISTS (a concurrent creator): wait until every topic is
    // there with a leader for each partition, whoever created it.
    const names = topics.map((t) => t.topic);
    await waitFor(
      `Kafka topics ${names.join(", ")} with their leaders`,
      async () => {
        const described = (await admin.fetchTopicMetadata({ topics: names })).topics;
        return described.length === names.length && described.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
      },
      30_000,
      200,
    );
    return missing.map((t) => t.topic);
  } finally {
    await admin.disconnect();
  }
}
