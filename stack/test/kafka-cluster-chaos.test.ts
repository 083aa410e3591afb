import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Topics } from "@fluxgate/common";
import { ConfigResourceTypes, Partitioners, type PartitionMetadata } from "kafkajs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stackConfig } from "../src/config";
import { runningDaemon, waitFor } from "../src/daemon";
import { repoRoot } from "../src/home";
import { quietKafka } from "../src/kafka";
import { serviceNames } from "../src/services";
import { readState, type StackState } from "../src/state";
import type { ComponentStatus } from "../src/status";
import { shareKafkaJars } from "./kafka-jars";
import { chaosEnv, drained, expectClean, run, stackCli, startCrowd, startSale } from "./chaos-sale";

/**
 * The cluster production runs — 3 KRaft nodes, topics with 3 replicas and min.insync.replicas 2,
 * the producer on acks=all — on a stack of its own (own home, ports, database), selected by
 * KAFKA_NODES=3 alone. Mid-sale, the broker that leads the sale's partition of `orders` (all of a
 * sale's orders share one: they are keyed by productId) is killed with SIGKILL: no clean
 * shutdown, no handing over of leadership.
 */
const home = mkdtempSync(join(tmpdir(), "fluxgate-kafka-cluster-"));
const shared = inject("stack");
const env = {
  // Each from CLUSTER_CHAOS_<NAME> (e.g. CLUSTER_CHAOS_KAFKA_EXTRA_NODES_PORT), apart from chaos.test.ts's ports.
  ...chaosEnv("CLUSTER_CHAOS_", home, {
    STACK_REDIS_PORT: "16392",
    KAFKA_PORT: "19592",
    KAFKA_CONTROLLER_PORT: "19593",
    KAFKA_EXTRA_NODES_PORT: "19594",
    // Three JVMs next to the rest of the stack on CI's two cores.
    KAFKA_HEAP_MB: "256",
    BRIDGE_PORT: "18279",
    ORIGIN_PORT: "13200",
    ORIGIN_METRICS_PORT: "13202",
    WORKER_PORT: "13201",
    EDGE_PORT: "18987",
    EDGE_INSPECTOR_PORT: "19539",
    ISSUER_PORT: "18291",
  }),
  KAFKA_NODES: "3",
  // A redis of its own: two stacks' relays on one redis would take each other's outboxes.
  REDIS_URL: "redis://127.0.0.1:1",
  DATABASE_URL: shared.postgres.url.replace(/\/[^/]*$/, `/${process.env.CLUSTER_CHAOS_DATABASE ?? "fluxgate_cluster_chaos"}`),
  // The relay should pick up what a failed forward left within the test's patience.
  RELAY_MIN_IDLE_MS: "1500",
};
const config = stackConfig(env);
let state: StackState;

/**
 * A fresh admin each time (a broker may have just died), retried: kafkajs tries the bootstrap
 * brokers one per attempt, and the first may be the dead one.
 */
const connectAdmin = async () => {
  const admin = quietKafka(state.kafka.brokers, "fluxgate-cluster-chaos", 3).admin();
  await admin.connect();
  return admin;
};

/** The partitions of `orders` as the cluster describes them now. */
async function ordersPartitions(): Promise<PartitionMetadata[]> {
  const admin = await connectAdmin();
  try {
    return (await admin.fetchTopicMetadata({ topics: [Topics.orders] })).topics[0]!.partitions;
  } finally {
    await admin.disconnect();
  }
}

/** The partition a sale's orders go to, by the producers' own partitioner (Java's murmur2 of the key, the productId). */
async function salePartition(productId: string): Promise<PartitionMetadata> {
  const partitionMetadata = await ordersPartitions();
  const partition = Partitioners.DefaultPartitioner()({ topic: Topics.orders, partitionMetadata, message: { key: productId, value: null } });
  return partitionMetadata.find((p) => p.partitionId === partition)!;
}

async function ordersMinInSync(): Promise<string | undefined> {
  const admin = await connectAdmin();
  try {
    const { resources } = await admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: Topics.orders, configNames: ["min.insync.replicas"] }],
      includeSynonyms: false,
    });
    return resources[0]?.configEntries[0]?.configValue;
  } finally {
    await admin.disconnect();
  }
}

/** Our java processes: those whose command line points into this stack's home. */
const javaProcessesUnderHome = () =>
  readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        return cmdline[0]?.endsWith("java") && cmdline.some((arg) => arg.includes(home)) && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
      } catch {
        return false;
      }
    });

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

describe("a 3-node Kafka cluster loses the leader of the sale's partition mid-sale (kill -9)", { timeout: 600_000 }, () => {
  let killed: { nodeId: number; pid: number } | undefined;

  beforeAll(async () => {
    const t0 = Date.now();
    await shareKafkaJars(home);
    await stackCli(env, "up");
    state = readState(config.home)!;
    console.log(`[kafka-cluster-chaos] npm run up with KAFKA_NODES=3: ${seconds(Date.now() - t0)}`);
  }, 600_000);

  afterAll(async () => {
    await stackCli(env, "down").catch(() => undefined);
    const left = javaProcessesUnderHome();
    rmSync(home, { recursive: true, force: true });
    expect(left, "java processes left running after npm run down").toEqual([]);
  }, 180_000);

  it("buyers notice nothing, PostgreSQL holds exactly the accepted orders, npm run audit balances", async () => {
    const productId = `cluster-chaos-${Date.now().toString(36)}`;
    const quantity = 150;
    const buyers = 300;
    // The topic as production runs it: every partition on all 3 nodes, 2 copies needed for an ack.
    const before = await salePartition(productId);
    expect(before.replicas).toHaveLength(3);
    expect(before.isr).toHaveLength(3);
    expect(await ordersMinInSync()).toBe("2");

    // 25 admissions a second: the sale lasts about 6 s, so most of it happens after the kill.
    await startSale(state, productId, quantity, 25);
    const crowd = startCrowd(state, productId, buyers, 2000);
    // Mid-sale by what buyers got, not by a guess at timing: a fifth of the stock accepted.
    await waitFor("a fifth of the stock accepted", async () => crowd.outcomes.accepted >= quantity / 5, 60_000, 50);
    const leader = runningDaemon(config.home, `kafka-${before.leader}`);
    expect(leader, `the daemon of node ${before.leader}`).toBeDefined();
    const killedAt = Date.now();
    process.kill(-leader!.pid, "SIGKILL");
    killed = { nodeId: before.leader, pid: leader!.pid };

    // The cluster fences the dead node and hands its partition to an in-sync replica.
    const after = await waitFor(
      "a new leader of the sale's partition",
      async () => {
        const p = await salePartition(productId);
        return p.leader !== before.leader && p.leader >= 0 && !p.isr.includes(before.leader) ? p : undefined;
      },
      60_000,
      250,
    );
    const failoverMs = Date.now() - killedAt;
    expect(before.isr).toContain(after.leader);

    const { acceptedAt, ...answers } = await crowd.done;
    const soldAfterKill = acceptedAt.filter((at) => at > killedAt).length;
    // Every buyer got the answer a sale without a crash gives: bought, or sold out; no 5xx, no dropped request.
    expect(answers).toEqual({
      accepted: quantity,
      soldOut: buyers - quantity,
      errors: 0,
      unavailable: 0,
      unavailableAnswers: new Set(),
      unexpected: {},
      unanswered: 0,
    });
    expect(soldAfterKill, "orders accepted after the kill").toBeGreaterThan(0);

    const report = await drained(state, productId, 120_000);
    expectClean(report, quantity);
    expect(report.postgres.orders).toBe(answers.accepted);
    // What the operator runs: exits 1 on anything oversold, lost, duplicated or a stock mismatch.
    const audit = await run(process.execPath, ["--import", "tsx", join(repoRoot, "stack/src/audit-cli.ts"), productId], { cwd: repoRoot, env });
    expect(JSON.parse(audit.stdout)).toMatchObject({ oversold: 0, lost: 0, duplicates: 0, stockConsistent: true, postgres: { orders: quantity } });
    console.log(
      `[kafka-cluster-chaos] killed node ${before.leader} (leader of orders/${before.partitionId}) after ${quantity - soldAfterKill} of ${quantity} sold; ` +
        `node ${after.leader} led it ${seconds(failoverMs)} later; ${soldAfterKill} sold after the kill; ` +
        `all ${quantity} in PostgreSQL, accepted → persisted p50 ${report.latencyMs?.p50} ms, max ${report.latencyMs?.max} ms`,
    );
  });

  it("npm run up restarts only the dead node, which catches up, and leaves the rest running; npm run status shows every broker", async () => {
    if (!killed) throw new Error("the kill in the sale above did not happen: nothing to restart");
    const survivors = ["kafka-1", "kafka-2", "kafka-3"].filter((name) => name !== `kafka-${killed!.nodeId}`);
    const untouched = [...survivors, ...serviceNames];
    const pids = () => untouched.map((name) => runningDaemon(config.home, name)?.pid);
    const pidsBefore = pids();
    const t0 = Date.now();
    await stackCli(env, "up");
    expect(pids()).toEqual(pidsBefore);
    expect(runningDaemon(config.home, `kafka-${killed.nodeId}`)?.pid).not.toBe(killed.pid);
    // Back in sync: every partition has its 3 copies again.
    await waitFor("the restarted node back in the ISR", async () => (await ordersPartitions()).every((p) => p.isr.length === 3), 120_000, 500);
    console.log(`[kafka-cluster-chaos] node ${killed.nodeId} restarted and in sync again in ${seconds(Date.now() - t0)}`);

    const { stdout } = await stackCli(env, "status", ["--json"]);
    const kafka = (JSON.parse(stdout) as ComponentStatus[]).filter((row) => row.name.startsWith("kafka"));
    expect(kafka.map((row) => [row.name, row.running, row.address])).toEqual(state.kafka.brokers.map((address, i) => [`kafka-${i + 1}`, true, address]));
  });
});
