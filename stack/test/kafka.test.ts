/**
 * The real Kafka broker (stack/src/kafka.ts) against our client, kafkajs 2.2.4: a KRaft node
 * started in a temporary FLUXGATE_HOME on ports 19092/19093 (KAFKA_TEST_PORT /
 * KAFKA_TEST_CONTROLLER_PORT to move them), or the broker at KAFKA_BROKERS when one is set and
 * answers. Checks what the project relies on and what Kafka 4's removal of old protocol versions
 * (KIP-896) could break: the idempotent producer, classic consumer groups, admin calls.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CompressionTypes, ConfigResourceTypes, Kafka, logLevel, Partitioners, type Admin, type Consumer, type Producer } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runningDaemon } from "../src/daemon";
import { stackHome, type StackHome } from "../src/home";
import {
  KAFKA_DAEMON,
  KAFKA_VERSION,
  ensureTopics,
  fluxgateTopics,
  KAFKA_DEFAULTS,
  kafkaBrokers,
  parseMavenTransfer,
  serverProperties,
  startKafka,
  stopKafka,
  waitKafkaReady,
} from "../src/kafka";
import { shareKafkaJars } from "./kafka-jars";

const run = Math.random().toString(36).slice(2, 8);
const topic = (name: string) => `test.${name}.${run}`;

let home: StackHome | undefined; // set when this file started the broker (and so must stop it)
let startOptions: Parameters<typeof startKafka>[0] | undefined;
let brokers: string[];
let kafka: Kafka;
let admin: Admin;
const clients: Array<Producer | Consumer> = [];

/** Our java processes: those whose command line points into the temporary home. */
function javaProcessesUnder(root: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (cmdline[0]?.endsWith("java") && cmdline.some((arg) => arg.includes(root))) pids.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Math.round(Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024);
}

/** Why a test of the broker's own life is skipped (shown in the report, never counted as a pass). */
const EXTERNAL = "runs against the external broker at KAFKA_BROKERS, which is not this test's to start or stop";

async function reuseExternal(): Promise<string[] | undefined> {
  const external = process.env.KAFKA_BROKERS?.split(",").filter(Boolean);
  if (!external?.length) return undefined;
  try {
    await waitKafkaReady(external, 5000);
    return external;
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  const external = await reuseExternal();
  if (external) {
    brokers = external;
  } else {
    // The jars come from the stack's own cache (see shareKafkaJars).
    const own = await shareKafkaJars(mkdtempSync(join(tmpdir(), "fluxgate-kafka-test-")));
    home = own;
    const opts = {
      ...KAFKA_DEFAULTS,
      home: own,
      port: Number(process.env.KAFKA_TEST_PORT ?? 19092),
      controllerPort: Number(process.env.KAFKA_TEST_CONTROLLER_PORT ?? 19093),
      heapMb: 512,
    };
    startOptions = opts;
    brokers = kafkaBrokers(opts);
    const t0 = Date.now();
    await startKafka(opts, () => undefined);
    const t1 = Date.now();
    await waitKafkaReady(brokers, 120_000, { home });
    console.log(`kafka ${KAFKA_VERSION}: jars+format+spawn ${t1 - t0} ms, spawn→ready ${Date.now() - t1} ms`);
  }
  kafka = new Kafka({ clientId: "fluxgate-kafka-test", brokers, logLevel: logLevel.WARN });
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  for (const client of clients) await client.disconnect().catch(() => undefined);
  await admin?.disconnect().catch(() => undefined);
  if (home) {
    await stopKafka(home);
    rmSync(home.root, { recursive: true, force: true });
  }
});

describe("helpers", () => {
  it("parses Maven's transfer lines", () => {
    expect(parseMavenTransfer("Downloading from central: https://repo.maven.apache.org/maven2/org/apache/kafka/kafka_2.13/4.4.0/kafka_2.13-4.4.0.jar")).toEqual(
      {
        kind: "started",
        file: "kafka_2.13-4.4.0.jar",
        bytes: 0,
      },
    );
    expect(parseMavenTransfer("[INFO] Downloaded from central: https://x/y/z/kafka-clients-4.4.0.jar (2.1 MB at 9.9 MB/s)")).toEqual({
      kind: "finished",
      file: "kafka-clients-4.4.0.jar",
      bytes: 2_100_000,
    });
    expect(parseMavenTransfer("Downloaded from central: https://x/a.pom (598 B at 12 kB/s)")?.bytes).toBe(598);
    expect(parseMavenTransfer("[INFO] BUILD SUCCESS")).toBeUndefined();
  });

  it("configures one loopback KRaft node", () => {
    const props = serverProperties({ ...KAFKA_DEFAULTS, port: 19092, controllerPort: 19093 }, 1, "/x/logs");
    expect(props).toContain("process.roles=broker,controller");
    expect(props).toContain("controller.quorum.voters=1@127.0.0.1:19093");
    expect(props).toContain("listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093");
    expect(props).toContain("advertised.listeners=PLAINTEXT://127.0.0.1:19092");
    expect(props).toContain("auto.create.topics.enable=false");
    expect(props).toContain("offsets.topic.replication.factor=1");
    expect(props).toContain("min.insync.replicas=1");
  });

  it("configures a three-node cluster as production runs: 3 copies, 2 in sync, every node its own ports", () => {
    const shape = { nodes: 3, port: 19092, controllerPort: 19093, extraNodesPort: 19094 };
    expect(kafkaBrokers(shape)).toEqual(["127.0.0.1:19092", "127.0.0.1:19094", "127.0.0.1:19096"]);
    const props = serverProperties(shape, 3, "/x/logs");
    expect(props).toContain("node.id=3");
    expect(props).toContain("controller.quorum.voters=1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097");
    expect(props).toContain("listeners=PLAINTEXT://127.0.0.1:19096,CONTROLLER://127.0.0.1:19097");
    for (const line of [
      "default.replication.factor=3",
      "min.insync.replicas=2",
      "offsets.topic.replication.factor=3",
      "unclean.leader.election.enable=false",
    ]) {
      expect(props).toContain(line);
    }
    // Our topics carry the same promise themselves; a single node keeps one copy.
    expect(fluxgateTopics(3).map((t) => [t.topic, t.replicationFactor, t.configEntries])).toEqual([
      ["orders", 3, [{ name: "min.insync.replicas", value: "2" }]],
      ["orders.dlq", 3, [{ name: "min.insync.replicas", value: "2" }]],
    ]);
    expect(fluxgateTopics(1).map((t) => t.replicationFactor)).toEqual([1, 1]);
  });
});

describe(`Apache Kafka ${KAFKA_VERSION} with kafkajs`, () => {
  it("creates topics idempotently", async () => {
    const specs = [
      { topic: topic("orders"), numPartitions: 6 },
      { topic: topic("orders.dlq"), numPartitions: 1 },
    ];
    expect((await ensureTopics(brokers, specs)).sort()).toEqual(specs.map((s) => s.topic).sort());
    expect(await ensureTopics(brokers, specs)).toEqual([]);
    await Promise.all([ensureTopics(brokers, specs), ensureTopics(brokers, specs)]);
    const { topics } = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) });
    const partitions = Object.fromEntries(topics.map((t) => [t.name, t.partitions.length]));
    expect(partitions).toEqual({ [specs[0]!.topic]: 6, [specs[1]!.topic]: 1 });
    for (const t of topics) for (const p of t.partitions) expect(p.leader).toBe(p.replicas[0]);
    // auto.create.topics.enable=false: a producer cannot conjure a topic by writing to it.
    const quiet = new Kafka({ clientId: "fluxgate-kafka-test-quiet", brokers, logLevel: logLevel.NOTHING });
    const producer = quiet.producer({ createPartitioner: Partitioners.DefaultPartitioner, retry: { retries: 1 } });
    clients.push(producer);
    await producer.connect();
    await expect(producer.send({ topic: topic("typo"), messages: [{ value: "x" }] })).rejects.toThrow();
    expect(await admin.listTopics()).not.toContain(topic("typo"));
  });

  it("round-trips through an idempotent producer and a consumer group", async () => {
    const t = topic("roundtrip");
    await ensureTopics(brokers, [{ topic: t, numPartitions: 3 }]);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    clients.push(producer);
    await producer.connect();
    const sent = Array.from({ length: 30 }, (_, i) => ({ key: `k${i % 5}`, value: JSON.stringify({ i }), headers: { "x-seq": String(i) } }));
    const acks = await producer.send({ topic: t, acks: -1, messages: sent });
    expect(acks.every((a) => a.errorCode === 0)).toBe(true);

    const groupId = `group-${run}`;
    const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1000 });
    clients.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic: t, fromBeginning: true });
    const received: Array<{ key: string; i: number; seq: string }> = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`received ${received.length}/30`)), 60_000);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            received.push({
              key: message.key!.toString(),
              i: (JSON.parse(message.value!.toString()) as { i: number }).i,
              seq: message.headers!["x-seq"]!.toString(),
            });
            if (received.length === sent.length) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    await consumer.stop(); // commits the offsets it consumed
    expect(received.map((r) => r.i).sort((a, b) => a - b)).toEqual(sent.map((_, i) => i));
    for (const r of received) expect(r.seq).toBe(String(r.i));

    // Admin offsets: high watermarks and the group's committed offsets both add up to 30.
    const ends = await admin.fetchTopicOffsets(t);
    expect(ends.reduce((sum, p) => sum + Number(p.high), 0)).toBe(30);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [t] });
    expect(committed!.partitions.reduce((sum, p) => sum + Number(p.offset), 0)).toBe(30);
    const groups = await admin.describeGroups([groupId]);
    expect(groups.groups[0]?.protocolType).toBe("consumer");
  });

  it("keeps each key in one partition, in produce order", async () => {
    const t = topic("ordering");
    const keys = Array.from({ length: 12 }, (_, k) => `user-${k}`);
    const perKey = 60;
    await ensureTopics(brokers, [{ topic: t, numPartitions: 6 }]);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    clients.push(producer);
    await producer.connect();
    // 6 batches, each with 10 messages of every key, interleaved key by key.
    const rounds = 6;
    const per = perKey / rounds;
    for (let r = 0; r < rounds; r++) {
      const messages = [];
      for (let j = 0; j < per; j++) for (const key of keys) messages.push({ key, value: String(r * per + j) });
      await producer.send({ topic: t, acks: -1, messages });
    }

    const consumer = kafka.consumer({ groupId: `ordering-${run}`, sessionTimeout: 10_000, heartbeatInterval: 1000 });
    clients.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic: t, fromBeginning: true });
    const total = keys.length * perKey;
    const seen = new Map<string, Array<{ seq: number; partition: number; offset: bigint }>>();
    let count = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`received ${count}/${total}`)), 60_000);
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const key = message.key!.toString();
            const list = seen.get(key) ?? [];
            list.push({ seq: Number(message.value!.toString()), partition, offset: BigInt(message.offset) });
            seen.set(key, list);
            if (++count === total) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    await consumer.stop();

    expect([...seen.keys()].sort()).toEqual([...keys].sort());
    const partitionsUsed = new Set<number>();
    for (const [key, list] of seen) {
      expect(new Set(list.map((m) => m.partition)).size, `${key} spans partitions`).toBe(1);
      partitionsUsed.add(list[0]!.partition);
      expect(
        list.map((m) => m.seq),
        `${key} out of order`,
      ).toEqual(Array.from({ length: perKey }, (_, i) => i));
      for (let i = 1; i < list.length; i++) expect(list[i]!.offset > list[i - 1]!.offset).toBe(true);
    }
    expect(partitionsUsed.size).toBeGreaterThan(1); // 12 keys over 6 partitions: really keyed, not all in one
  });

  it("serves the other admin calls we use: describeCluster, describeConfigs, resetOffsets, deleteTopics", async () => {
    const cluster = await admin.describeCluster();
    expect(cluster.brokers).toHaveLength(1);
    expect(cluster.controller).not.toBeNull();
    const t = topic("admin");
    await ensureTopics(brokers, [{ topic: t, numPartitions: 2, configEntries: [{ name: "retention.ms", value: "3600000" }] }]);
    const configs = await admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: t, configNames: ["retention.ms"] }],
      includeSynonyms: false,
    });
    expect(configs.resources[0]?.configEntries.find((e) => e.configName === "retention.ms")?.configValue).toBe("3600000");

    const producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
    clients.push(producer);
    await producer.connect();
    await producer.send({
      topic: t,
      acks: -1,
      compression: CompressionTypes.GZIP,
      messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
    });
    const groupId = `admin-${run}`;
    await admin.setOffsets({
      groupId,
      topic: t,
      partitions: [
        { partition: 0, offset: "1" },
        { partition: 1, offset: "1" },
      ],
    });
    expect((await admin.fetchOffsets({ groupId, topics: [t] }))[0]!.partitions.map((p) => p.offset)).toEqual(["1", "1"]);
    await admin.resetOffsets({ groupId, topic: t, earliest: true }); // commits kafkajs's "earliest" sentinel, -2
    const resolved = await admin.fetchOffsets({ groupId, topics: [t], resolveOffsets: true }); // ListOffsets turns it into 0
    expect(resolved[0]!.partitions.map((p) => p.offset)).toEqual(["0", "0"]);
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).toContain(groupId);
    await admin.deleteGroups([groupId]);

    await admin.deleteTopics({ topics: [t], timeout: 10_000 });
    await expect.poll(async () => (await admin.listTopics()).includes(t), { timeout: 10_000 }).toBe(false);
  });

  it("refuses to take a broker it did not start for its own", async ({ skip }) => {
    if (!startOptions) return skip(EXTERNAL);
    // A second home on the same client port: its JVM cannot bind, and the broker that does
    // answer there belongs to another cluster. waitKafkaReady must say so quickly, not succeed.
    const other = stackHome(mkdtempSync(join(tmpdir(), "fluxgate-kafka-test-other-")));
    try {
      await startKafka({ ...startOptions, home: other, controllerPort: startOptions.controllerPort! + 1 }, () => undefined);
      const t0 = Date.now();
      await expect(waitKafkaReady(brokers, 60_000, { home: other })).rejects.toThrow(/another Kafka|exited during start-up/);
      expect(Date.now() - t0).toBeLessThan(30_000);
    } finally {
      await stopKafka(other, 5000);
      expect(javaProcessesUnder(other.root)).toEqual([]);
      rmSync(other.root, { recursive: true, force: true });
    }
  });

  it("stops cleanly, leaving no java process behind", async ({ skip }) => {
    if (!home || !startOptions) return skip(EXTERNAL);
    const record = runningDaemon(home, KAFKA_DAEMON);
    expect(record).toBeDefined();
    // Starting again while it runs is a no-op that returns the running broker.
    expect((await startKafka(startOptions, () => undefined)).map((d) => d.pid)).toEqual([record!.pid]);
    expect(javaProcessesUnder(home.root)).toEqual([record!.pid]);
    console.log(`kafka ${KAFKA_VERSION}: broker RSS after the tests ${rssMb(record!.pid)} MiB`);
    for (const client of clients.splice(0)) await client.disconnect();
    await admin.disconnect();
    const t0 = Date.now();
    expect(await stopKafka(home, 20_000)).toEqual([KAFKA_DAEMON]);
    const took = Date.now() - t0;
    console.log(`kafka ${KAFKA_VERSION}: stop took ${took} ms`);
    expect(took).toBeLessThan(19_000); // SIGTERM sufficed: no SIGKILL after the grace period
    expect(runningDaemon(home, KAFKA_DAEMON)).toBeUndefined();
    expect(javaProcessesUnder(home.root)).toEqual([]);
    // A clean shutdown, not the SIGKILL fallback: Kafka logs its own end.
    expect(readFileSync(join(home.logs, "kafka.log"), "utf8")).toMatch(/App info kafka\.server for 1 unregistered/);
  });
});
