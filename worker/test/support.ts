/**
 * What every worker test file shares: a sandbox of its own on the real stack (a Kafka topic, its
 * dead-letter topic, a consumer group and a PostgreSQL schema, all with a random suffix, removed
 * afterwards), and builders for the messages the origin produces.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { OrderMessage, OrderStatus, SaleStarted, SaleSteered } from "@fluxgate/common";
import { kafkaBrokersFromEnv, LOCAL_DATABASE_URL } from "@fluxgate/common/node";
import { Kafka, logLevel, Partitioners, type Admin, type IHeaders, type Producer } from "kafkajs";
import pg from "pg";
import { pino, type Logger } from "pino";
import { loadConfig, type WorkerConfig } from "../src/config";
import { consumerLag } from "@fluxgate/common/node";

const BROKERS = kafkaBrokersFromEnv();
export const DATABASE_URL = process.env.DATABASE_URL ?? LOCAL_DATABASE_URL;

export const testLogger = (): Logger => pino({ level: process.env.LOG_LEVEL ?? "silent" });

export interface Sandbox {
  name: string;
  topic: string;
  dlqTopic: string;
  group: string;
  schema: string;
  /** A worker config on this sandbox; `overrides` are environment variables. */
  config(overrides?: Record<string, string>): WorkerConfig;
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  /** Connections whose search_path is the sandbox's schema. */
  db: pg.Pool;
  cleanup(): Promise<void>;
}

export async function createSandbox(label: string, partitions = 3): Promise<Sandbox> {
  const suffix = `${label}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  const topic = `test.worker.${suffix}`;
  const dlqTopic = `${topic}.dlq`;
  const group = `test-worker-${suffix}`;
  const schema = `test_worker_${suffix}`.toLowerCase();
  const kafka = new Kafka({ clientId: `test-${suffix}`, brokers: BROKERS, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic, numPartitions: partitions },
      { topic: dlqTopic, numPartitions: 1 },
    ],
  });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const db = new pg.Pool({ connectionString: DATABASE_URL, max: 3, options: `-c search_path=${schema}` });
  await db.query(`CREATE SCHEMA ${schema}`);

  return {
    name: suffix,
    topic,
    dlqTopic,
    group,
    schema,
    kafka,
    admin,
    producer,
    db,
    config: (overrides = {}) =>
      loadConfig({
        KAFKA_BROKERS: BROKERS.join(","),
        DATABASE_URL,
        DATABASE_SCHEMA: schema,
        ORDERS_TOPIC: topic,
        DLQ_TOPIC: dlqTopic,
        CONSUMER_GROUP: group,
        WORKER_PORT: "0",
        WORKER_LAG_INTERVAL_MS: "500",
        WORKER_RETRY_MAX_MS: "1000",
        ...overrides,
      }),
    async cleanup() {
      await producer.disconnect().catch(() => undefined);
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(group));
      await admin.deleteGroups(groups).catch(() => undefined);
      await admin.deleteTopics({ topics: [topic, dlqTopic] }).catch(() => undefined);
      await admin.disconnect();
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.end();
    },
  };
}

let counter = 0;

export function sale(overrides: Partial<SaleStarted> = {}): SaleStarted {
  return {
    v: 1,
    type: "sale",
    saleId: `sale-${randomUUID()}`,
    productId: `product-${++counter}`,
    quantity: 1000,
    perUserLimit: 5,
    startedAt: Date.now(),
    added: 0,
    ...overrides,
  };
}

/** An order of `of`, carrying the sale's terms as the gate writes them. */
export function order(of: Pick<SaleStarted, "saleId" | "productId"> & Partial<SaleStarted>, overrides: Partial<OrderMessage> = {}): OrderMessage {
  const id = randomUUID();
  return {
    v: 1,
    type: "order",
    orderId: `order-${id}`,
    saleId: of.saleId,
    productId: of.productId,
    userId: `user-${id.slice(0, 8)}`,
    quantity: 1,
    idempotencyKey: `idem-${id}`,
    acceptedAt: Date.now(),
    sale: { quantity: of.quantity ?? 1000, perUserLimit: of.perUserLimit ?? 5, startedAt: of.startedAt ?? Date.now(), added: of.added ?? 0 },
    ...overrides,
  };
}

/** An operator's control of `of` as the edge writes it; `sale.added` is the level after it (`of.added` plus any addStock). */
export function steered(of: SaleStarted, version: number, action: SaleSteered["action"], changes: SaleSteered["changes"] = {}, by = "ops-oncall"): SaleSteered {
  const { quantity, perUserLimit, startedAt } = of;
  return {
    v: 1,
    type: "sale_steered",
    saleId: of.saleId,
    productId: of.productId,
    version,
    action,
    by,
    at: Date.now(),
    changes,
    sale: { quantity, perUserLimit, startedAt, added: of.added + (changes.addStock ?? 0) },
  };
}

/** A held order of `of` (its hold ends `holdMs` after acceptance), as the gate of a sale with holds writes it. */
export const heldOrder = (of: Parameters<typeof order>[0], holdMs = 30_000, overrides: Partial<OrderMessage> = {}): OrderMessage => {
  const o = order(of, overrides);
  return { ...o, holdExpiresAt: o.acceptedAt + holdMs };
};

/** How a held order ended, as Redis writes it (it carries the order as accepted). */
export function orderStatus(
  held: OrderMessage,
  status: OrderStatus["status"],
  by: OrderStatus["by"] = status === "paid" ? "shop" : status === "expired" ? "expiry" : "buyer",
): OrderStatus {
  const { orderId, saleId, productId } = held;
  return { v: 1, type: "order_status", orderId, saleId, productId, status, by, at: Date.now(), order: held };
}

/** A message as the origin produces it (keyed by product), or raw bytes for the broken ones. */
export type Outgoing = SaleStarted | OrderMessage | SaleSteered | OrderStatus | { key: string; raw: string | null; headers?: IHeaders };

export async function produce(sandbox: Sandbox, events: Outgoing[], chunk = 2000) {
  for (let i = 0; i < events.length; i += chunk) {
    await sandbox.producer.send({
      topic: sandbox.topic,
      acks: -1,
      messages: events
        .slice(i, i + chunk)
        .map((e) => ("raw" in e ? { key: e.key, value: e.raw, headers: e.headers } : { key: e.productId, value: JSON.stringify(e) })),
    });
  }
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await sleep(everyMs);
  }
}

/** Until the group has committed everything on the topic (so the database holds all of it). */
export const waitDrained = (sandbox: Sandbox, group = sandbox.group, timeoutMs = 60_000) =>
  waitFor(
    "the consumer group to catch up",
    async () => [...(await consumerLag(sandbox.admin, group, sandbox.topic)).values()].every((lag) => lag === 0),
    timeoutMs,
    200,
  );

export interface DeadLetterRead {
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/** Reads the sandbox's dead-letter topic from the beginning until `count` messages came (or times out). */
export async function readDeadLetters(sandbox: Sandbox, count: number, timeoutMs = 30_000): Promise<DeadLetterRead[]> {
  const consumer = sandbox.kafka.consumer({ groupId: `${sandbox.group}-dlq-reader-${Math.random().toString(36).slice(2, 8)}`, maxWaitTimeInMs: 100 });
  const read: DeadLetterRead[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [sandbox.dlqTopic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        read.push({
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? null,
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
        });
      },
    });
    await waitFor(`${count} dead letters`, async () => read.length >= count, timeoutMs);
    return read;
  } finally {
    await consumer.disconnect();
  }
}

/**
 * A metric's value from the worker's own registry, summed over label sets unless `labels` narrows
 * it; for a histogram, its `_count`.
 */
export async function metric(registry: import("prom-client").Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const found = registry.getSingleMetric(name);
  if (!found) throw new Error(`no metric ${name}`);
  const { values } = await found.get();
  return values
    .filter((v) => {
      const series = (v as { metricName?: string }).metricName ?? name;
      return (series === name || series === `${name}_count`) && Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l);
    })
    .reduce((sum, v) => sum + v.value, 0);
}

/** The worker as its own process (src/main.ts, as `npm start` runs it) on the sandbox; `env` adds to its config. */
export function spawnWorker(sandbox: Sandbox, env: Record<string, string> = {}): { child: ChildProcess; exited: Promise<number | null> } {
  const config = sandbox.config(env);
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("../src/main.ts", import.meta.url))], {
    env: {
      ...process.env,
      ...env,
      LOG_LEVEL: process.env.LOG_LEVEL ?? "silent",
      KAFKA_BROKERS: config.KAFKA_BROKERS.join(","),
      DATABASE_URL: config.DATABASE_URL,
      DATABASE_SCHEMA: config.DATABASE_SCHEMA,
      ORDERS_TOPIC: config.ORDERS_TOPIC,
      DLQ_TOPIC: config.DLQ_TOPIC,
      CONSUMER_GROUP: config.CONSUMER_GROUP,
      WORKER_PORT: "0",
    },
    stdio: "ignore",
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited };
}
