/**
 * What the origin's tests share: the running stack's Kafka and Redis (from the environment, else
 * .fluxgate/stack.json, else the default ports), an in-process origin on port 0 with a topic and
 * an outbox registry of its own, signed forwards the way the edge sends them, and a reader that
 * collects everything produced to the test topic.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { OUTBOX_ID_HEADER, signedHeaders, type OrderMessage, type OrderStatus, type SaleStarted, type SaleSteered } from "@fluxgate/common";
import { kafkaBrokersFromEnv } from "@fluxgate/common/node";
import { Kafka, logLevel, type Admin, type Consumer, type IHeaders } from "kafkajs";
import { Redis } from "ioredis";
import { pino } from "pino";
import { loadConfig, type OriginConfig } from "../src/config";
import { createOrigin, type Origin } from "../src/origin";

const repoRoot = resolve(fileURLToPath(import.meta.url), "../../..");

function stackFile(): { kafka?: { brokers?: string[] }; redis?: { url?: string } } {
  try {
    return JSON.parse(readFileSync(join(process.env.FLUXGATE_HOME ?? join(repoRoot, ".fluxgate"), "stack.json"), "utf8"));
  } catch {
    return {};
  }
}

const stack = stackFile();
export const brokers = kafkaBrokersFromEnv({ KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? stack.kafka?.brokers?.join(",") });
export const redisUrl = process.env.REDIS_URL ?? stack.redis?.url ?? "redis://127.0.0.1:6379";

/** The signing secret of every origin the tests start (and of the forwards they sign). */
export const SECRET = "origin-test-secret-0123456789abcdef";
/** A short random tag that keeps this run's topics, keys and productIds apart from everyone else's. */
export const uniqueTag = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;

export const logger = pino({ level: process.env.LOG_LEVEL ?? "silent" });
export const kafka = new Kafka({ clientId: "origin-test", brokers, logLevel: logLevel.NOTHING });
export const newRedis = () => new Redis(redisUrl, { maxRetriesPerRequest: 1 });

function testConfig(env: Record<string, string>): OriginConfig {
  return loadConfig({
    ORIGIN_PORT: "0",
    ORIGIN_METRICS_PORT: "0",
    KAFKA_BROKERS: brokers.join(","),
    REDIS_URL: redisUrl,
    ORIGIN_SIGNING_SECRET: SECRET,
    ...env,
  });
}

/** Each started origin's metrics address, by its public one (metric() reads it). */
const metricsUrls = new Map<string, string>();

export async function startOrigin(env: Record<string, string>): Promise<{ origin: Origin; url: string; metricsUrl: string }> {
  const origin = createOrigin(testConfig(env), logger);
  const { url, metricsUrl } = await origin.start();
  metricsUrls.set(url, metricsUrl);
  return { origin, url, metricsUrl };
}

export async function createTopic(admin: Admin, topic: string, numPartitions = 3) {
  await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1 }], waitForLeaders: true });
}

/** Messages in the topic so far (sum of the partitions' high watermarks; the topic is new, so low is 0). */
export async function topicSize(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

export function order(productId: string, n: number, extra: Partial<OrderMessage> = {}): string {
  const message: OrderMessage = {
    v: 1,
    type: "order",
    orderId: `${productId}-order-${n}`,
    saleId: `${productId}-sale`,
    productId,
    userId: `user-${n}`,
    quantity: 1,
    idempotencyKey: `key-${n}`,
    acceptedAt: Date.now(),
    sale: { quantity: 10, perUserLimit: 1, startedAt: Date.now(), added: 0 },
    ...extra,
  };
  return JSON.stringify(message);
}

/** How the product's held order `n` ended, as Redis writes it (the order, with its hold, inside); `extra` may break it. */
export function orderStatus(productId: string, n: number, status: OrderStatus["status"], extra: Partial<Record<keyof OrderStatus, unknown>> = {}): string {
  const held = JSON.parse(order(productId, n, { holdExpiresAt: Date.now() + 60_000 })) as OrderMessage;
  const message: OrderStatus = {
    v: 1,
    type: "order_status",
    orderId: held.orderId,
    saleId: held.saleId,
    productId,
    status,
    by: status === "paid" ? "shop" : status === "expired" ? "expiry" : "operator",
    at: Date.now(),
    order: held,
  };
  return JSON.stringify({ ...message, ...extra });
}

export function sale(productId: string, quantity = 10): string {
  const message: SaleStarted = { v: 1, type: "sale", saleId: `${productId}-sale`, productId, quantity, perUserLimit: 1, startedAt: Date.now(), added: 0 };
  return JSON.stringify(message);
}

/** An operator's control of the product's sale (version `version`), as the edge writes it; `extra` may break it. */
export function steered(productId: string, version: number, extra: Partial<Record<keyof SaleSteered, unknown>> = {}): string {
  const message: SaleSteered = {
    v: 1,
    type: "sale_steered",
    saleId: `${productId}-sale`,
    productId,
    version,
    action: "update",
    by: "ops-oncall",
    at: Date.now(),
    changes: { ratePerSecond: 50, addStock: 20 },
    sale: { quantity: 10, perUserLimit: 1, startedAt: Date.now(), added: 20 },
  };
  return JSON.stringify({ ...message, ...extra });
}

export interface ForwardOptions {
  outboxId?: string;
  secret?: string;
  timestamp?: number;
  /** Sign this instead of the body sent. */
  signAs?: string;
  /** Sign this outbox id, but send `outboxId` (a replay that swaps the entry). */
  signOutboxIdAs?: string;
  /** Leave the signature headers out. */
  unsigned?: boolean;
  /** More headers, unsigned (a traceparent, as the edge sends one). */
  headers?: Record<string, string>;
}

/** POST /orders the way edge/src/forward.ts does it. */
/** GET /health as the operator's tools send it: signed like a forward, so the details come back. */
export async function signedHealth(url: string, secret = SECRET): Promise<Response> {
  return fetch(new URL("/health", url), { headers: await signedHeaders(secret, { method: "GET", path: "/health", body: "" }) });
}

export async function forward(url: string, body: string, o: ForwardOptions = {}): Promise<Response> {
  const timestamp = o.timestamp ?? Date.now();
  const headers: Record<string, string> = { "content-type": "application/json", ...o.headers };
  if (!o.unsigned) {
    const signed = { method: "POST", path: "/orders", outboxId: o.signOutboxIdAs ?? o.outboxId, body: o.signAs ?? body };
    Object.assign(headers, await signedHeaders(o.secret ?? SECRET, signed, timestamp));
  }
  if (o.outboxId) headers[OUTBOX_ID_HEADER] = o.outboxId;
  else delete headers[OUTBOX_ID_HEADER];
  return fetch(new URL("/orders", url), { method: "POST", headers, body });
}

export interface Consumed {
  key: string;
  value: string;
  headers: Record<string, string>;
  partition: number;
  offset: number;
}

const headerText = (headers: IHeaders | undefined) =>
  Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, Array.isArray(v) ? String(v[0]) : String(v)]));

/** Everything produced to `topic`, from the beginning, collected by a consumer group of its own. */
export async function collectTopic(topic: string) {
  const groupId = `${topic}.reader`;
  const consumer: Consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  const messages: Consumed[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      messages.push({
        key: message.key?.toString() ?? "",
        value: message.value?.toString() ?? "",
        headers: headerText(message.headers),
        partition,
        offset: Number(message.offset),
      });
    },
  });
  return {
    messages,
    /** Messages keyed by this productId, in their partition's order. */
    of: (productId: string) => messages.filter((m) => m.key === productId).sort((a, b) => a.offset - b.offset),
    async close(admin: Admin) {
      await consumer.disconnect();
      await admin.deleteGroups([groupId]).catch(() => undefined);
    },
  };
}

/** Polls `check` until it returns true (or throws the last failure after `timeoutMs`). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 20_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/**
 * The value of one Prometheus sample, e.g. metric(url, 'fluxgate_origin_produced_total{source="forward"}'),
 * read from the metrics port of the origin that serves `url`.
 */
export async function metric(url: string, sample: string): Promise<number> {
  const text = await (await fetch(new URL("/metrics", metricsUrls.get(url) ?? url))).text();
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}
