/**
 * The origin's sweep of quiet sales against the real Redis and Kafka: a hold nobody pays expires
 * with no buyer calling, its units back in the sale within a second, and its end reaches Kafka
 * through the relay; a paid hold costs no sweep.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { HOLD_SWEEP_INTERVAL_MS, type OrderMessage, Outbox, outboxEventsKey, SaleEvent, saleKeys } from "@fluxgate/common";
import type { Admin } from "kafkajs";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Origin } from "../src/origin";
import { collectTopic, createTopic, eventually, forward, kafka, metric, newRedis, order, startOrigin, uniqueTag } from "./helpers";

const tag = uniqueTag();
const topic = `test.origin.holds.${tag}`;
const registry = `test:origin:${tag}:outboxes`;
const product = (name: string) => `t-${tag}-${name}`;
const env = { ORDERS_TOPIC: topic, RELAY_OUTBOXES_KEY: registry, RELAY_MIN_IDLE_MS: "1000", RELAY_READ_INTERVAL_MS: "100", ACK_FLUSH_MS: "100" };

let admin: Admin;
let redis: Redis;
let reader: Awaited<ReturnType<typeof collectTopic>>;
const origins: Origin[] = [];
const products: string[] = [];

/** An origin of its own, on an empty registry: one that starts sweeps the sales it finds once (to learn their holds). */
async function start() {
  for (const origin of origins.splice(0)) await origin.stop();
  const started = await startOrigin(env);
  origins.push(started.origin);
  return started;
}

const redisNow = async () => {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
};

/**
 * What the gate writes when it accepts the one unit of a sale with holds (edge/src/gate/gate.lua.ts),
 * its outbox registered as /init does. Returns the order and its outbox entry (none: as if its forward was confirmed already).
 */
async function heldAtTheEdge(productId: string, holdMs: number, inOutbox = true): Promise<{ order: OrderMessage; body: string; entryId?: string }> {
  products.push(productId);
  const k = saleKeys(productId);
  const now = await redisNow();
  const body = order(productId, 1, { acceptedAt: now, holdExpiresAt: now + holdMs, sale: { quantity: 1, perUserLimit: 1, startedAt: now, added: 0 } });
  const held = JSON.parse(body) as OrderMessage;
  await redis.hset(k.sale, { saleId: held.saleId, quantity: 1, remaining: 0, held: 1, paid: 0, released: 0, holdMs });
  await redis.hset(k.buyers, held.userId, 1);
  await redis.zadd(k.holds, now + holdMs, held.orderId);
  await redis.hset(k.holdOrders, held.orderId, `held|${body}`);
  const entryId = inOutbox ? (await redis.xadd(k.outbox, "*", Outbox.orderField, body))! : undefined;
  await redis.sadd(registry, k.outbox);
  await redis.xadd(outboxEventsKey(registry), "*", Outbox.openedField, k.outbox);
  return { order: held, body, entryId };
}

const saleHash = async (productId: string) => redis.hgetall(saleKeys(productId).sale);
const endsIn = (productId: string) =>
  reader.of(productId).flatMap((m) => {
    const event = SaleEvent.parse(JSON.parse(m.value));
    return event.type === "order_status" ? [event] : [];
  });

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
  await redis?.del(registry, outboxEventsKey(registry), ...products.flatMap((p) => Object.values(saleKeys(p))));
  await redis?.quit();
});

describe("the origin's sweep of a quiet sale", () => {
  it("ends a 1 s hold nobody pays with no buyer calling: its unit is back within a second of the expiry, its end reaches Kafka", async () => {
    const { url } = await start();
    const productId = product("quiet");
    const { order: held, body, entryId } = await heldAtTheEdge(productId, 1_000);
    // The edge forwarded the order: the origin learns its hold from it.
    expect((await forward(url, body, { outboxId: entryId })).status).toBe(202);

    await eventually(async () => (await saleHash(productId)).remaining === "1", 5_000, 10);
    const backAfterMs = (await redisNow()) - held.holdExpiresAt!;
    expect(backAfterMs).toBeLessThan(HOLD_SWEEP_INTERVAL_MS);
    expect(await saleHash(productId)).toMatchObject({ remaining: "1", held: "0", released: "1" });
    // The buyer's count went back with it, and the hold is gone.
    expect(await redis.hget(saleKeys(productId).buyers, held.userId)).toBe("0");
    expect(await redis.zcard(saleKeys(productId).holds)).toBe(0);

    await eventually(() => endsIn(productId).length === 1, 10_000);
    expect(endsIn(productId)[0]).toMatchObject({ orderId: held.orderId, status: "expired", by: "expiry", order: held });
    expect(await metric(url, "fluxgate_origin_hold_sweeps_total")).toBe(1);
    expect(await metric(url, "fluxgate_origin_holds_expired_total")).toBe(1);
    // Nothing pending any more: no further sweep.
    await sleep(HOLD_SWEEP_INTERVAL_MS + 200);
    expect(await metric(url, "fluxgate_origin_hold_sweeps_total")).toBe(1);
  });

  it("costs no sweep for a hold paid before it expires", async () => {
    await redis.del(registry);
    const { url } = await start();
    const productId = product("paid");
    const { order: held, body, entryId } = await heldAtTheEdge(productId, 500);
    expect((await forward(url, body, { outboxId: entryId })).status).toBe(202);
    // The shop's payment as the edge's end-hold script leaves it, and its forward.
    const k = saleKeys(productId);
    await redis.zrem(k.holds, held.orderId);
    await redis.hset(k.holdOrders, held.orderId, `paid|${body}`);
    await redis.hset(k.sale, { held: 0, paid: 1 });
    const paid = JSON.stringify({
      v: 1,
      type: "order_status",
      orderId: held.orderId,
      saleId: held.saleId,
      productId,
      status: "paid",
      by: "shop",
      at: Date.now(),
      order: held,
    });
    expect((await forward(url, paid)).status).toBe(202);

    await sleep(500 + HOLD_SWEEP_INTERVAL_MS);
    expect(await metric(url, "fluxgate_origin_hold_sweeps_total")).toBe(0);
    expect(await saleHash(productId)).toMatchObject({ remaining: "0", paid: "1" });
  });

  it("learns, once started, the holds of the sales it relays: one it never saw expires all the same", async () => {
    for (const origin of origins.splice(0)) await origin.stop();
    await redis.del(registry);
    const productId = product("restarted");
    // Accepted and forwarded before the origin restarted: nothing in the outbox tells the new one.
    await heldAtTheEdge(productId, 1_500, false);
    const { url } = await start();
    await eventually(async () => (await saleHash(productId)).remaining === "1", 5_000, 20);
    await eventually(() => endsIn(productId).length === 1, 10_000);
    expect(await metric(url, "fluxgate_origin_holds_expired_total")).toBe(1);
  });
});
