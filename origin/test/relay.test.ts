/**
 * The outbox relay against the real Redis and Kafka: entries the edge wrote but no forward
 * confirmed reach Kafka on their own, once each; entries a forward confirmed are left alone.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Outbox, outboxEventsKey, parseTraceparent, saleKeys } from "@fluxgate/common";
import type { Admin } from "kafkajs";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MessageHeaders } from "../src/message";
import type { Origin } from "../src/origin";
import { collectTopic, createTopic, eventually, forward, kafka, metric, newRedis, order, orderStatus, sale, startOrigin, steered, uniqueTag } from "./helpers";

const tag = uniqueTag();
const topic = `test.origin.relay.${tag}`;
/** This file's own registry: the origins here relay only these streams, and the stack's origin never sees them. */
const registry = `test:origin:${tag}:outboxes`;
const product = (name: string) => `t-${tag}-${name}`;
const relayEnv = { ORDERS_TOPIC: topic, RELAY_OUTBOXES_KEY: registry, RELAY_MIN_IDLE_MS: "1000", RELAY_READ_INTERVAL_MS: "100", ACK_FLUSH_MS: "100" };

let admin: Admin;
let redis: Redis;
let reader: Awaited<ReturnType<typeof collectTopic>>;
const origins: Origin[] = [];
const streams: string[] = [];

/** What /init does: a running sale, its outbox registered, and the relays told. */
async function outboxOf(productId: string, remaining = 3) {
  const { outbox: stream, sale } = saleKeys(productId);
  streams.push(stream, sale);
  await redis.hset(sale, "remaining", String(remaining));
  await redis.sadd(registry, stream);
  await redis.xadd(outboxEventsKey(registry), "*", Outbox.openedField, stream);
  return stream;
}

async function start(env: Record<string, string> = {}) {
  const started = await startOrigin({ ...relayEnv, ...env });
  origins.push(started.origin);
  return started;
}

const pendingCount = async (stream: string) => Number(((await redis.xpending(stream, Outbox.relayGroup)) as [number])[0]);

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  await createTopic(admin, topic);
  redis = newRedis();
  reader = await collectTopic(topic);
});

afterAll(async () => {
  for (const origin of origins) await origin.stop();
  await reader?.close(admin);
  await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin?.disconnect();
  await redis?.del(registry, outboxEventsKey(registry), ...streams);
  await redis?.quit();
});

describe("the outbox relay", () => {
  it("delivers what no forward confirmed, once each, and leaves forwarded entries to the forward", async () => {
    const { url } = await start();
    // Warm the producer up, so the forward below is as quick as in production.
    expect((await forward(url, order(product("warm-up"), 0))).status).toBe(202);

    const [a, b] = [product("a"), product("b")];
    const [streamA, streamB] = [await outboxOf(a), await outboxOf(b)];
    const saleA = sale(a);
    await redis.xadd(streamA, "*", Outbox.saleField, saleA);
    const ordersA = [1, 2, 3].map((n) => order(a, n));
    const ordersB = [1, 2].map((n) => order(b, n));
    const idsA = [];
    for (const body of ordersA) idsA.push(await redis.xadd(streamA, "*", Outbox.orderField, body));
    for (const body of ordersB) await redis.xadd(streamB, "*", Outbox.orderField, body);
    // The edge's forward of one of them arrives in time: the relay must not produce it too.
    expect((await forward(url, ordersA[1]!, { outboxId: idsA[1]! })).status).toBe(202);

    await eventually(async () => (await redis.xlen(streamA)) + (await redis.xlen(streamB)) === 0);
    await eventually(() => reader.of(a).length === 4 && reader.of(b).length === 2);
    // A few more relay passes, well past the idle time: nothing is produced again.
    await sleep(1500);

    const valuesA = reader.of(a).map((m) => m.value);
    expect(valuesA.toSorted()).toEqual([saleA, ...ordersA].toSorted());
    // Relayed in stream order: the sale start ahead of its relayed orders (the forwarded one may overtake it).
    expect(valuesA.filter((v) => v !== ordersA[1])).toEqual([saleA, ordersA[0], ordersA[2]]);
    expect(reader.of(b).map((m) => m.value)).toEqual(ordersB);
    expect(reader.of(a).find((m) => m.value === ordersA[1])!.headers[MessageHeaders.source]).toBe("forward");
    expect(reader.of(b).every((m) => m.headers[MessageHeaders.source] === "relay" && m.key === b)).toBe(true);
    expect(await pendingCount(streamA)).toBe(0);
    expect(await pendingCount(streamB)).toBe(0);

    expect(await metric(url, 'fluxgate_origin_produced_total{source="relay"}')).toBe(5);
    expect(await metric(url, 'fluxgate_origin_produced_total{source="forward"}')).toBe(2);
    await eventually(async () => (await metric(url, "fluxgate_origin_outbox_backlog")) === 0);
  });

  it("delivers an order whose forward failed within 5 s with the default settings, even one appended during a read pause", async () => {
    for (const origin of origins.splice(0)) await origin.stop();
    // The defaults, as deployed (the other tests here shorten them).
    await start({ RELAY_MIN_IDLE_MS: "3000", RELAY_READ_INTERVAL_MS: "1000", ACK_FLUSH_MS: "1000" });
    const e = product("late");
    const stream = await outboxOf(e);
    await sleep(500);
    // The first entry wakes the relay's read, which then pauses; the second lands in that pause: the worst case.
    const bodies = [1, 2].map((n) => order(e, n));
    await redis.xadd(stream, "*", Outbox.orderField, bodies[0]!);
    await sleep(50);
    const appendedAt = Date.now();
    await redis.xadd(stream, "*", Outbox.orderField, bodies[1]!);
    await eventually(() => reader.of(e).length === 2, 10_000, 20);
    const tookMs = Date.now() - appendedAt;
    expect(reader.of(e).map((m) => m.value)).toEqual(bodies);
    expect(tookMs).toBeLessThan(5_000);
    for (const origin of origins.splice(0)) await origin.stop();
  });

  it("continues each relayed order's trace from its outbox entry, as a forward would, and gives none to an entry without one", async () => {
    await start();
    const t = product("traced");
    const stream = await outboxOf(t);
    const traced = order(t, 1, { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" });
    const untraced = order(t, 2);
    for (const body of [traced, untraced]) await redis.xadd(stream, "*", Outbox.orderField, body);

    await eventually(() => reader.of(t).length === 2);
    const [first, second] = reader.of(t);
    expect([first!.value, second!.value]).toEqual([traced, untraced]);
    const recorded = parseTraceparent(first!.headers[MessageHeaders.traceparent]);
    expect(recorded).toMatchObject({ traceId: "0af7651916cd43dd8448eb211c80319c", sampled: true });
    expect(recorded!.spanId).not.toBe("b7ad6b7169203331");
    expect(first!.headers[MessageHeaders.source]).toBe("relay");
    expect(second!.headers[MessageHeaders.traceparent]).toBeUndefined();
  });

  it("delivers an operator's control no forward confirmed, in stream order with the orders around it", async () => {
    await start();
    const c = product("control");
    const stream = await outboxOf(c);
    const [before, control, after] = [order(c, 1), steered(c, 2), order(c, 2)];
    await redis.xadd(stream, "*", Outbox.orderField, before);
    await redis.xadd(stream, "*", Outbox.saleField, control);
    await redis.xadd(stream, "*", Outbox.orderField, after);

    await eventually(() => reader.of(c).length === 3);
    expect(reader.of(c).map((m) => m.value)).toEqual([before, control, after]);
    expect(reader.of(c)[1]).toMatchObject({ key: c, headers: { [MessageHeaders.source]: "relay" } });
    await eventually(async () => (await redis.xlen(stream)) === 0);
    // The next test counts what its own origin relays: no other may take its entries.
    for (const origin of origins.splice(0)) await origin.stop();
  });

  it("delivers a held order's end no forward confirmed (the gate's and the sweep's expiries), in stream order", async () => {
    await start();
    const h = product("holds");
    const stream = await outboxOf(h);
    const [held, expired, paid] = [order(h, 1, { holdExpiresAt: Date.now() + 1_000 }), orderStatus(h, 1, "expired"), orderStatus(h, 2, "paid")];
    await redis.xadd(stream, "*", Outbox.orderField, held);
    await redis.xadd(stream, "*", Outbox.saleField, expired);
    await redis.xadd(stream, "*", Outbox.saleField, paid);

    await eventually(() => reader.of(h).length === 3);
    expect(reader.of(h).map((m) => m.value)).toEqual([held, expired, paid]);
    expect(reader.of(h)[1]).toMatchObject({ key: h, headers: { [MessageHeaders.source]: "relay" } });
    await eventually(async () => (await redis.xlen(stream)) === 0);
    for (const origin of origins.splice(0)) await origin.stop();
  });

  it("keeps relaying the good streams when one registered key is broken", async () => {
    const { url } = await start();
    const broken = await outboxOf(product("broken"));
    await redis.set(broken, "not a stream");
    const c = product("c");
    const streamC = await outboxOf(c);
    const body = order(c, 1);
    await redis.xadd(streamC, "*", Outbox.orderField, body);

    await eventually(() => reader.of(c).length === 1);
    expect(reader.of(c)[0]!.value).toBe(body);
    expect(await metric(url, 'fluxgate_origin_produced_total{source="relay"}')).toBeGreaterThan(0);
    await redis.srem(registry, broken);
  });

  it("keeps what Kafka did not take in the outbox, and delivers it once Kafka is back", async () => {
    // Every origin so far stops: only the one without Kafka relays now.
    for (const origin of origins.splice(0)) await origin.stop();
    const { url: cutUrl, origin: cut } = await start({ KAFKA_BROKERS: "127.0.0.1:1", PRODUCE_TIMEOUT_MS: "500" });
    const d = product("d");
    const streamD = await outboxOf(d);
    const bodies = [1, 2, 3].map((n) => order(d, n));
    for (const body of bodies) await redis.xadd(streamD, "*", Outbox.orderField, body);

    await eventually(async () => (await metric(cutUrl, "fluxgate_origin_relay_errors_total")) >= 2);
    expect(await metric(cutUrl, 'fluxgate_origin_produce_failures_total{source="relay"}')).toBeGreaterThanOrEqual(3);
    expect(await redis.xlen(streamD)).toBe(3);
    await cut.stop();

    await start();
    await eventually(() => reader.of(d).length === 3);
    expect(reader.of(d).map((m) => m.value)).toEqual(bodies);
    await eventually(async () => (await redis.xlen(streamD)) === 0);
  });

  it("stops polling the outbox of a finished sale, and keeps the ones still selling or holding units for payment", async () => {
    const done = product("done");
    const selling = product("selling");
    // No unit free, one held: its expiry or payment is still to come through this outbox.
    const holding = product("holding");
    await redis.hset(saleKeys(holding).sale, "held", "1");
    const holdingStream = await outboxOf(holding, 0);
    // The gate appends a sale's last order in the same call that takes its last unit.
    const last = order(done, 1);
    await redis.xadd(saleKeys(done).outbox, "*", Outbox.orderField, last);
    const [doneStream, sellingStream] = [await outboxOf(done, 0), await outboxOf(selling, 3)];
    await start();
    // The sold-out sale's last entry is relayed first; only then is its outbox retired.
    await eventually(async () => (await redis.sismember(registry, doneStream)) === 0, 15_000);
    expect(reader.of(done).map((m) => m.value)).toEqual([last]);
    expect(await redis.xlen(doneStream)).toBe(0);
    expect(await redis.sismember(registry, sellingStream)).toBe(1);
    expect(await redis.sismember(registry, holdingStream)).toBe(1);
  });
});
