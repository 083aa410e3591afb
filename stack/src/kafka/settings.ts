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

/** The daemon of the single node; a cluster's nodes are kafka-1 … kafka-N. */
export const KAFKA_DAEMON = "kafka";

export interface KafkaOptions {
  home: StackHome;
  /** How many KRaft nodes (each broker + controller): 1 for the demo and the tests, 3 as production runs. */
  nodes: number;
  /** Node 1's PLAINTEXT listener for clients, 127.0.0.1 only. */
  port: number;
  /** Node 1's KRaft controller listener, 127.0.0.1 only. */
  controllerPort: number;
  /** Nodes 2…N listen from here on, two ports each (client, then controller). */
  extraNodesPort: number;
  /** -Xms = -Xmx of each node, in MiB. */
  heapMb: number;
  version: string;
}

export const KAFKA_DEFAULTS = { nodes: 1, port: 9092, controllerPort: 9093, extraNodesPort: 9094, heapMb: 512, version: KAFKA_VERSION } as const;

export type KafkaShape = Pick<KafkaOptions, "nodes" | "port" | "controllerPort" | "extraNodesPort">;

/** One KRaft node of the stack: its id, ports and the daemon that runs it. */
export interface KafkaNode {
  id: number;
  port: number;
  controllerPort: number;
  daemon: string;
}

/** The daemon that runs node `id` of a shape of `nodes`. */
export const kafkaDaemon = (nodes: number, id: number) => (nodes === 1 ? KAFKA_DAEMON : `${KAFKA_DAEMON}-${id}`);

/** The nodes a shape runs, node 1 on `port`/`controllerPort`, the others from `extraNodesPort` up. */
export function kafkaNodes(shape: KafkaShape): KafkaNode[] {
  return Array.from({ length: shape.nodes }, (_, i) => {
    const id = i + 1;
    const port = id === 1 ? shape.port : shape.extraNodesPort + 2 * (id - 2);
    const controllerPort = id === 1 ? shape.controllerPort : port + 1;
    return { id, port, controllerPort, daemon: kafkaDaemon(shape.nodes, id) };
  });
}

/** The client addresses of every node: the bootstrap list, so a client still finds the cluster when one node is gone. */
export const kafkaBrokers = (shape: KafkaShape = KAFKA_DEFAULTS): string[] => kafkaNodes(shape).map((n) => `127.0.0.1:${n.port}`);

/** A daemon name that belongs to a Kafka node, of this shape or another. */
export const isKafkaDaemon = (name: string) => /^kafka(-\d+)?$/.test(name);

/**
 * How many copies of each partition, and how many must have a write before it is acknowledged.
 * The one definition the brokers' defaults, the internal topics and our topics all derive from.
 * Three copies with two in sync (what production runs) let one broker die without losing an
 * acknowledged write (acks=all waits for the in-sync replicas, and never fewer than 2) and
 * without stopping writes. A single node can only keep one copy.
 */
export function replication(nodes: number): { replicationFactor: number; minInSyncReplicas: number } {
  const replicationFactor = Math.min(nodes, 3);
  return { replicationFactor, minInSyncReplicas: Math.max(1, replicationFactor - 1) };
}

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  /** Default 1. */
  replicationFactor?: number;
  configEntries?: ITopicConfig["configEntries"];
}

/** What `up` creates: the order stream (6 partitions, keyed) and its dead-letter topic, replicated as `replication` says. */
export function fluxgateTopics(nodes: number): TopicSpec[] {
  const { replicationFactor, minInSyncReplicas } = replication(nodes);
  // On the topic too, so it holds whatever a broker's default says.
  const configEntries = [{ name: "min.insync.replicas", value: String(minInSyncReplicas) }];
  return [
    { topic: Topics.orders, numPartitions: 6, replicationFactor, configEntries },
    { topic: Topics.deadLetters, numPartitions: 1, replicationFactor, configEntries },
  ];
}

/**
 * Where a node keeps its data and generated configuration under the stack's home. A cluster's
 * data lives apart from the single node's, and apart per size (its controller quorum is fixed at
 * format time), so switching KAFKA_NODES never starts a node on another shape's storage.
 */
export function kafkaPaths(home: StackHome, nodes: number, node: Pick<KafkaNode, "id">) {
  if (nodes === 1) {
    const dir = join(home.data, "kafka");
    return { dir, logDir: join(dir, "logs"), clusterIdFile: join(dir, "cluster.id"), serverProperties: join(home.run, "kafka-server.properties") };
  }
  const cluster = join(home.data, `kafka-${nodes}-nodes`);
  const dir = join(cluster, `node-${node.id}`);
  return {
    dir,
    logDir: join(dir, "logs"),
    clusterIdFile: join(cluster, "cluster.id"),
    serverProperties: join(home.run, `kafka-${nodes}-nodes-${node.id}-server.properties`),
  };
}
