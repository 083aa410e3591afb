/**
 * POST /orders through a real origin (in-process, port 0) into the real Kafka: what the edge's
 * forward gets back, what lands in the topic, what happens to the outbox entry.
 */
import { BILL_KEY, Outbox, parseTraceparent, readBookedBill, saleKeys } from "@fluxgate/common";
import type { Admin } from "kafkajs";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Origin } from "../src/origin";
import { MessageHeaders } from "../src/message";
import {
  collectTopic,
  createTopic,
  eventually,
  forward,
  kafka,
  metric,
  newRedis,
  order,
  orderStatus,
  sale,
  signedHealth,
  startOrigin,
  steered,
  topicSize,
  uniqueTag,
} from "./helpers";

const tag = uniqueTag();
const topic = `test.origin.forward.${tag}`;
const product = (name: string) => `t-${tag}-${name}`;

let admin: Admin;
let redis: Redis;
let origin: Origin;
let url: string;
let metricsUrl: string;
let reader: Awaited<ReturnType<typeof collectTopic>>;
const usedProducts: string[] = [];

/** XADDs `body` into the product's outbox as the edge's gate does; returns the entry id. */
async function outboxAdd(productId: string, body: string, field: string = Outbox.orderField) {
  usedProducts.push(productId);
  return (await redis.xadd(saleKeys(productId).outbox, "*", field, body))!;
}

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  await createTopic(admin, topic);
  redis = newRedis();
  ({ origin, url, metricsUrl } = await startOrigin({ ORDERS_TOPIC: topic, RELAY_OUTBOXES_KEY: `test:origin:${tag}:outboxes` }));
  reader = await collectTopic(topic);
});

afterAll(async () => {
  await origin?.stop();
  await reader?.close(admin);
  await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin?.disconnect();
  if (usedProducts.length) await redis.del(...usedProducts.map((p) => saleKeys(p).outbox));
  await redis?.quit();
});

describe("a signed forward", () => {
  it("is produced with key = productId and the exact body, answered 202, and its outbox entry is gone within a flush", async () => {
    const productId = product("order");
    // Unusual spacing and key order: the origin must pass the bytes through, not re-serialise.
    const body = order(productId, 1).replace(`"v":1,`, `"v": 1 ,  `);
    const outboxId = await outboxAdd(productId, body);

    const res = await forward(url, body, { outboxId });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ status: "produced", type: "order", productId, orderId: `${productId}-order-1`, outboxId });
    // Confirmations go in batches, at most ACK_FLUSH_MS later.
    await eventually(async () => (await redis.xlen(saleKeys(productId).outbox)) === 0, 2_000);

    await eventually(() => reader.of(productId).length === 1);
    const [message] = reader.of(productId);
    expect(message).toMatchObject({ key: productId, value: body });
    expect(message!.headers).toMatchObject({ [MessageHeaders.source]: "forward", [MessageHeaders.outboxId]: outboxId });
    // An order without a trace is given none here.
    expect(message!.headers[MessageHeaders.traceparent]).toBeUndefined();
  });

  it("continues the trace its signed order names, in a span of its own that the record's traceparent header names", async () => {
    const productId = product("traced");
    const edgeSpan = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const body = order(productId, 1, { traceparent: edgeSpan });
    // The HTTP header is not signed: a forged one changes nothing, the signed body's trace is the one.
    const forged = "00-11111111111111111111111111111111-2222222222222222-01";
    const res = await forward(url, body, { outboxId: await outboxAdd(productId, body), headers: { traceparent: forged } });
    expect(res.status).toBe(202);

    await eventually(() => reader.of(productId).length === 1);
    const [message] = reader.of(productId);
    expect(message!.value).toBe(body);
    const recorded = parseTraceparent(message!.headers[MessageHeaders.traceparent]);
    expect(recorded).toMatchObject({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", sampled: true });
    expect(recorded!.spanId).not.toBe("00f067aa0ba902b7");
  });

  it("carries a sale start the same way", async () => {
    const productId = product("sale");
    const body = sale(productId, 1000);
    const outboxId = await outboxAdd(productId, body, Outbox.saleField);

    const res = await forward(url, body, { outboxId });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ status: "produced", type: "sale", saleId: `${productId}-sale` });
    await eventually(async () => (await redis.xlen(saleKeys(productId).outbox)) === 0, 2_000);
    await eventually(() => reader.of(productId).length === 1);
    expect(reader.of(productId)[0]).toMatchObject({ key: productId, value: body });
  });

  it("carries an operator's control the same way", async () => {
    const productId = product("control");
    const body = steered(productId, 2);
    const outboxId = await outboxAdd(productId, body, Outbox.saleField);

    const res = await forward(url, body, { outboxId });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ status: "produced", type: "sale_steered", saleId: `${productId}-sale`, version: 2, outboxId });
    await eventually(async () => (await redis.xlen(saleKeys(productId).outbox)) === 0, 2_000);
    await eventually(() => reader.of(productId).length === 1);
    expect(reader.of(productId)[0]).toMatchObject({ key: productId, value: body });
  });

  it("carries a held order's end the same way", async () => {
    const productId = product("status");
    const body = orderStatus(productId, 1, "paid");
    const outboxId = await outboxAdd(productId, body, Outbox.saleField);

    const res = await forward(url, body, { outboxId });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ status: "produced", type: "order_status", orderId: `${productId}-order-1`, orderStatus: "paid", outboxId });
    await eventually(async () => (await redis.xlen(saleKeys(productId).outbox)) === 0, 2_000);
    await eventually(() => reader.of(productId).length === 1);
    expect(reader.of(productId)[0]).toMatchObject({ key: productId, value: body });
  });

  it("without an outbox id is produced all the same", async () => {
    const productId = product("no-outbox");
    const res = await forward(url, order(productId, 1));
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ status: "produced" });
    await eventually(() => reader.of(productId).length === 1);
  });

  it("keeps a crowd's orders apart: 200 concurrent forwards, each produced once, confirmed in a few batched commands", async () => {
    const productId = product("crowd");
    const booked = async () => {
      const { totals } = readBookedBill(await redis.hgetall(BILL_KEY));
      return (totals.forward ?? 0) + (totals.relay ?? 0);
    };
    const bookedBefore = await booked();
    const bodies = Array.from({ length: 200 }, (_, i) => order(productId, i));
    const ids = await Promise.all(bodies.map((b) => outboxAdd(productId, b)));
    const answers = await Promise.all(bodies.map((b, i) => forward(url, b, { outboxId: ids[i]! })));
    expect(answers.map((r) => r.status)).toEqual(bodies.map(() => 202));
    await eventually(async () => (await redis.xlen(saleKeys(productId).outbox)) === 0, 2_000);
    await eventually(() => reader.of(productId).length === 200);
    expect(new Set(reader.of(productId).map((m) => m.value))).toEqual(new Set(bodies));
    // The origin books its own commands in the bill (confirmations ride in one EVALSHA per flush or relay step, not 4 per order).
    const spent = (await booked()) - bookedBefore;
    expect(spent).toBeGreaterThan(0);
    expect(spent).toBeLessThan(20);
  });
});

describe("a copy of a forward already produced", () => {
  /** A later forward of the same product: once it is in Kafka, any copy produced before it would be too (one partition per key). */
  async function settled(productId: string, records: number) {
    const last = order(productId, 99);
    expect((await forward(url, last, { outboxId: await outboxAdd(productId, last) })).status).toBe(202);
    await eventually(() => reader.of(productId).some((m) => m.value === last));
    expect(reader.of(productId).filter((m) => m.value !== last)).toHaveLength(records);
  }

  it("replayed as captured (same signature), alone or ten at once, gets the first answer and no second record", async () => {
    const productId = product("replayed");
    const body = order(productId, 1);
    const outboxId = await outboxAdd(productId, body);
    const timestamp = Date.now();
    const replaysBefore = await metric(url, "fluxgate_origin_forward_replays_total");

    const first = await forward(url, body, { outboxId, timestamp });
    expect(first.status).toBe(202);
    const answer = await first.json();
    const copies = await Promise.all(Array.from({ length: 10 }, () => forward(url, body, { outboxId, timestamp })));
    for (const copy of copies) {
      expect(copy.status).toBe(202);
      expect(copy.headers.get("x-fluxgate-replayed")).toBe("1");
      expect(await copy.json()).toEqual(answer);
    }
    await settled(productId, 1);
    expect((await metric(url, "fluxgate_origin_forward_replays_total")) - replaysBefore).toBe(10);
  });

  it("sent again by the edge (signed anew, the same outbox entry) is not produced again; the same entry id of another product is", async () => {
    const productId = product("retried");
    const body = order(productId, 1);
    const outboxId = await outboxAdd(productId, body);
    expect((await forward(url, body, { outboxId, timestamp: Date.now() - 1_000 })).status).toBe(202);
    expect((await forward(url, body, { outboxId, timestamp: Date.now() })).headers.get("x-fluxgate-replayed")).toBe("1");
    // Stream ids are per outbox: another product's entry may carry the same id.
    const other = product("same-id");
    const otherBody = order(other, 1);
    usedProducts.push(other);
    const res = await forward(url, otherBody, { outboxId });
    expect(res.status).toBe(202);
    expect(res.headers.get("x-fluxgate-replayed")).toBeNull();
    await eventually(() => reader.of(other).length === 1);
    await settled(productId, 1);
  });

  it("without an outbox id, replayed with its signature, is produced once", async () => {
    const productId = product("replayed-no-outbox");
    const body = order(productId, 1);
    const timestamp = Date.now();
    for (let i = 0; i < 3; i++) expect((await forward(url, body, { timestamp })).status).toBe(202);
    await settled(productId, 1);
  });
});

describe("a forward that is refused produces nothing", () => {
  const productId = product("refused");
  const body = order(productId, 1);

  it.each([
    ["signed with another secret", { secret: "not-the-origin-secret-0123456789" }],
    ["with a stale timestamp", { timestamp: Date.now() - 10 * 60_000 }],
    ["a timestamp from the future", { timestamp: Date.now() + 10 * 60_000 }],
    ["without signature headers", { unsigned: true }],
  ])("401 when %s", async (_, options) => {
    const before = await topicSize(admin, topic);
    const outboxId = await outboxAdd(productId, body);
    const res = await forward(url, body, { outboxId, ...options });
    expect(res.status).toBe(401);
    expect(await res.json()).toHaveProperty("error");
    expect(await topicSize(admin, topic)).toBe(before);
    // Not ours to confirm: the entry stays for the relay.
    expect(await redis.xrange(saleKeys(productId).outbox, outboxId, outboxId)).toHaveLength(1);
  });

  it("401 when a captured forward is replayed naming another outbox entry, which stays for the relay", async () => {
    // Entry ids are guessable (a millisecond and a counter): a replay must not delete another order.
    const victim = order(productId, 7);
    const victimId = await outboxAdd(productId, victim);
    const captured = order(productId, 8);
    const capturedId = await outboxAdd(productId, captured);
    const before = await topicSize(admin, topic);

    const res = await forward(url, captured, { outboxId: victimId, signOutboxIdAs: capturedId });
    expect(res.status).toBe(401);
    expect(await topicSize(admin, topic)).toBe(before);
    expect(await redis.xrange(saleKeys(productId).outbox, victimId, victimId)).toHaveLength(1);
    expect(await redis.xrange(saleKeys(productId).outbox, capturedId, capturedId)).toHaveLength(1);

    // And a forward stripped of the outbox id it was signed with is refused too.
    expect((await forward(url, captured, { signOutboxIdAs: capturedId })).status).toBe(401);
  });

  it("401 when the signature is for another body", async () => {
    const before = await topicSize(admin, topic);
    const res = await forward(url, order(productId, 1, { quantity: 5 }), { signAs: body });
    expect(res.status).toBe(401);
    expect(await topicSize(admin, topic)).toBe(before);
  });

  it("400 for JSON that is not a sale event, saying why", async () => {
    const before = await topicSize(admin, topic);
    const res = await forward(url, order(productId, 2, { quantity: 0 }));
    expect(res.status).toBe(400);
    expect((await res.json()) as { error: string }).toMatchObject({ error: expect.stringContaining("quantity") });
    const unknownType = await forward(url, JSON.stringify({ v: 1, type: "refund", productId }));
    expect(unknownType.status).toBe(400);
    expect(await topicSize(admin, topic)).toBe(before);
  });

  it.each([
    ["an update that changes nothing", { changes: {} }, "changes: an update changes at least one setting"],
    ["a pause that changes a setting", { action: "pause" }, "changes: an update changes at least one setting"],
    ["no operator's label", { by: "" }, "by must not be empty"],
    ["a settings version of 0", { version: 0 }, "version"],
    ["no sale terms", { sale: undefined }, "sale"],
  ])("400 for an operator's control with %s, saying why; its outbox entry stays", async (_, patch, why) => {
    const before = await topicSize(admin, topic);
    const body = steered(productId, 1, patch);
    const outboxId = await outboxAdd(productId, body, Outbox.saleField);
    const res = await forward(url, body, { outboxId });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect((await res.json()) as { error: string }).toEqual({ error: expect.stringContaining(why) });
    expect(await topicSize(admin, topic)).toBe(before);
    expect(await redis.xrange(saleKeys(productId).outbox, outboxId, outboxId)).toHaveLength(1);
  });

  it.each([
    ["an unknown status", { status: "refunded" }, "status"],
    ["an unknown author", { by: "bank" }, "by"],
    ["no order inside", { order: undefined }, "order"],
    ["an order inside that is not one", { order: { orderId: "x" } }, "order"],
  ])("400 for a held order's end with %s, saying why; its outbox entry stays", async (_, patch, why) => {
    const before = await topicSize(admin, topic);
    const body = orderStatus(productId, 1, "expired", patch);
    const outboxId = await outboxAdd(productId, body, Outbox.saleField);
    const res = await forward(url, body, { outboxId });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect((await res.json()) as { error: string }).toEqual({ error: expect.stringContaining(why) });
    expect(await topicSize(admin, topic)).toBe(before);
    expect(await redis.xrange(saleKeys(productId).outbox, outboxId, outboxId)).toHaveLength(1);
  });

  it("400 for a body that is not JSON", async () => {
    const before = await topicSize(admin, topic);
    const res = await forward(url, "orderId=1&productId=x");
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "body must be JSON" });
    expect(await topicSize(admin, topic)).toBe(before);
  });

  it("400 for an outbox id that is no stream entry id", async () => {
    const res = await forward(url, order(productId, 3), { outboxId: "12345" });
    expect(res.status).toBe(400);
  });

  it("413 for a body over 64 KiB, declared or streamed", async () => {
    const before = await topicSize(admin, topic);
    const huge = order(productId, 4, { userId: "u" }).replace(`"v":1`, `"v":1,"padding":"${"x".repeat(70 * 1024)}"`);
    expect((await forward(url, huge)).status).toBe(413);

    const streamed = await fetch(new URL("/orders", url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 70; i++) controller.enqueue(new TextEncoder().encode("x".repeat(1024)));
          controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await topicSize(admin, topic)).toBe(before);
  });
});

describe("operations", () => {
  it("GET /health reports kafka and redis to a signed request, up or down to anyone else", async () => {
    const res = await signedHealth(url);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ service: "origin", status: "ok", dependencies: { kafka: { ok: true }, redis: { ok: true } } });
    const strangers = [fetch(new URL("/health", url)), signedHealth(url, "not-the-origin-signing-secret")];
    for (const answer of await Promise.all(strangers)) {
      expect(answer.status).toBe(200);
      expect(await answer.json()).toEqual({ status: "ok" });
    }
  });

  it("serves /metrics on its own port only: the public port answers 404", async () => {
    const open = await fetch(new URL("/metrics", url));
    expect(open.status).toBe(404);
    expect(await open.json()).toEqual({ error: "not found" });
    const own = await fetch(new URL("/metrics", metricsUrl));
    expect(own.status).toBe(200);
    expect(await own.text()).toMatch(/^fluxgate_origin_produced_total\{source="forward"\} \d+$/m);
    expect(new URL(metricsUrl).port).not.toBe(new URL(url).port);
  });

  it("GET /metrics counts what was produced and refused", async () => {
    // The copies above (10 + 1 + 2) are counted apart, never as produced.
    expect(await metric(url, 'fluxgate_origin_produced_total{source="forward"}')).toBe(213);
    expect(await metric(url, "fluxgate_origin_forward_replays_total")).toBe(13);
    expect(await metric(url, 'fluxgate_origin_rejected_total{reason="unauthorized"}')).toBe(7);
    expect(await metric(url, 'fluxgate_origin_rejected_total{reason="too_large"}')).toBe(2);
    expect(await metric(url, 'fluxgate_origin_rejected_total{reason="not_json"}')).toBe(1);
    expect(await metric(url, 'fluxgate_origin_rejected_total{reason="invalid_event"}')).toBe(2 + 5 + 4);
    expect(await metric(url, 'fluxgate_origin_produce_failures_total{source="forward"}')).toBe(0);
  });

  it("answers 503 when Kafka does not acknowledge, keeps the outbox entry, and stops cleanly twice", async () => {
    const { origin: cut, url: cutUrl } = await startOrigin({
      ORDERS_TOPIC: topic,
      KAFKA_BROKERS: "127.0.0.1:1",
      PRODUCE_TIMEOUT_MS: "1000",
      RELAY_OUTBOXES_KEY: `test:origin:${tag}:outboxes`,
    });
    try {
      const productId = product("no-kafka");
      const body = order(productId, 1);
      const outboxId = await outboxAdd(productId, body);
      const res = await forward(cutUrl, body, { outboxId });
      expect(res.status).toBe(503);
      expect(await redis.xlen(saleKeys(productId).outbox)).toBe(1);
      expect(await metric(cutUrl, 'fluxgate_origin_produce_failures_total{source="forward"}')).toBe(1);
      // A failure is not remembered as the answer: the edge's retry tries Kafka again.
      expect((await forward(cutUrl, body, { outboxId })).status).toBe(503);
      expect(await metric(cutUrl, 'fluxgate_origin_produce_failures_total{source="forward"}')).toBe(2);
      const health = await signedHealth(cutUrl);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: "degraded", dependencies: { kafka: { ok: false }, redis: { ok: true } } });
    } finally {
      await Promise.all([cut.stop(), cut.stop()]);
      await cut.stop();
    }
    await expect(fetch(new URL("/health", cutUrl))).rejects.toThrow();
  });
});
