/**
 * Holds through Kafka into PostgreSQL: a held order ends once (paid, expired or cancelled), its
 * transitions are kept once each whatever Kafka delivers again or first, and an expired or
 * cancelled order's units go back to the sale's stock exactly once.
 */
import type { OrderMessage, OrderStatus, SaleStarted } from "@fluxgate/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DlqHeaders } from "../src/dlq";
import { createWorker, type Worker } from "../src/worker";
import { createSandbox, heldOrder, metric, order, orderStatus, produce, readDeadLetters, sale, testLogger, waitDrained, type Sandbox } from "./support";

let sandbox: Sandbox;
let worker: Worker;
const start = async () => {
  worker = createWorker(sandbox.config(), testLogger());
  await worker.start();
};

beforeAll(async () => {
  sandbox = await createSandbox("holds");
  await start();
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await sandbox?.cleanup();
}, 60_000);

const stockOf = async (saleId: string) => (await sandbox.db.query("SELECT stock FROM sales WHERE sale_id = $1", [saleId])).rows[0]?.stock as number | undefined;

async function orderRow(orderId: string) {
  const { rows } = await sandbox.db.query("SELECT status, hold_expires_at, quantity FROM orders WHERE order_id = $1", [orderId]);
  return rows[0] as { status: string; hold_expires_at: Date | null; quantity: number } | undefined;
}

async function transitions(orderId: string) {
  const { rows } = await sandbox.db.query("SELECT status, by_label, at FROM order_transitions WHERE order_id = $1 ORDER BY at, status", [orderId]);
  return rows as Array<{ status: string; by_label: string; at: Date }>;
}

/** Stops the worker, rewinds the group to the start of the topic and starts it again: every message is delivered once more. */
async function redeliverEverything() {
  await worker.stop();
  await sandbox.admin.resetOffsets({ groupId: sandbox.group, topic: sandbox.topic, earliest: true });
  await start();
  await waitDrained(sandbox);
}

describe("a held order", () => {
  const s = sale({ quantity: 10 });
  const paid = heldOrder(s, 60_000, { quantity: 2 });
  const expired = heldOrder(s, 1_000);
  const final = order(s);
  let before: unknown;

  it("is persisted as held with its expiry, taking its units; an order without a hold stays accepted", async () => {
    await produce(sandbox, [s, paid, expired, final]);
    await waitDrained(sandbox);
    expect(await orderRow(paid.orderId)).toEqual({ status: "held", hold_expires_at: new Date(paid.holdExpiresAt!), quantity: 2 });
    expect(await orderRow(final.orderId)).toEqual({ status: "accepted", hold_expires_at: null, quantity: 1 });
    expect(await stockOf(s.saleId)).toBe(10 - 2 - 1 - 1);
  });

  it("is paid once and expires once, its units back once, however many times the statuses come", async () => {
    const pay = orderStatus(paid, "paid");
    const expire = orderStatus(expired, "expired");
    await produce(sandbox, [pay, expire, { ...pay }, { ...expire }]);
    await waitDrained(sandbox);
    await produce(sandbox, [{ ...expire }]);
    await waitDrained(sandbox);

    expect(await orderRow(paid.orderId)).toMatchObject({ status: "paid" });
    expect(await orderRow(expired.orderId)).toMatchObject({ status: "expired" });
    expect(await transitions(paid.orderId)).toEqual([{ status: "paid", by_label: "shop", at: new Date(pay.at) }]);
    expect(await transitions(expired.orderId)).toEqual([{ status: "expired", by_label: "expiry", at: new Date(expire.at) }]);
    // The paid units stay sold, the expired one is free again.
    expect(await stockOf(s.saleId)).toBe(10 - 2 - 1);
    expect(await metric(worker.registry, "fluxgate_worker_order_transitions_total")).toBe(2);
    expect(await metric(worker.registry, "fluxgate_worker_units_released_total")).toBe(1);
    before = await sandbox.db.query("SELECT order_id, status FROM orders ORDER BY order_id");
  });

  it("changes nothing when the whole topic is delivered again", async () => {
    await redeliverEverything();
    expect(await sandbox.db.query("SELECT order_id, status FROM orders ORDER BY order_id")).toMatchObject({ rows: (before as { rows: unknown[] }).rows });
    expect(await stockOf(s.saleId)).toBe(10 - 2 - 1);
    expect(await transitions(expired.orderId)).toHaveLength(1);
    expect(await metric(worker.registry, "fluxgate_worker_order_transitions_total")).toBe(0);
    expect(await metric(worker.registry, "fluxgate_worker_units_released_total")).toBe(0);
    expect(await metric(worker.registry, "fluxgate_worker_dlq_total")).toBe(0);
  });
});

describe("a status ahead of its order", () => {
  it("creates the order from the copy it carries, held then ended; the order coming later changes nothing", async () => {
    const s = sale({ quantity: 3 });
    const [a, b] = [heldOrder(s), heldOrder(s)];
    // The relay brings the sale and the orders late; the statuses were forwarded at once.
    await produce(sandbox, [orderStatus(a, "expired"), orderStatus(b, "paid")]);
    await waitDrained(sandbox);
    expect(await orderRow(a.orderId)).toMatchObject({ status: "expired", quantity: 1 });
    expect(await orderRow(b.orderId)).toMatchObject({ status: "paid" });
    expect(await stockOf(s.saleId)).toBe(3 - 1);

    await produce(sandbox, [s, a, b]);
    await waitDrained(sandbox);
    expect(await orderRow(a.orderId)).toMatchObject({ status: "expired" });
    expect(await orderRow(b.orderId)).toMatchObject({ status: "paid" });
    expect(await stockOf(s.saleId)).toBe(3 - 1);
  });

  it("applies in the batch's order when the order and its status come together", async () => {
    const s = sale({ quantity: 3 });
    const a = heldOrder(s);
    await produce(sandbox, [orderStatus(a, "cancelled"), s, a, orderStatus(a, "cancelled")]);
    await waitDrained(sandbox);
    expect(await orderRow(a.orderId)).toMatchObject({ status: "cancelled" });
    expect(await transitions(a.orderId)).toEqual([expect.objectContaining({ status: "cancelled", by_label: "buyer" })]);
    expect(await stockOf(s.saleId)).toBe(3);
  });
});

describe("the operator's cancel of a paid order", () => {
  it("gives the paid units back once, whichever of the payment and the cancel comes first", async () => {
    const s = sale({ quantity: 5 });
    const [inOrder, overtaken] = [heldOrder(s, 30_000, { quantity: 2 }), heldOrder(s, 30_000, { quantity: 2 })];
    await produce(sandbox, [s, inOrder, overtaken, orderStatus(inOrder, "paid"), orderStatus(inOrder, "cancelled", "operator")]);
    // The cancel's forward overtook the payment's (relayed later).
    await produce(sandbox, [orderStatus(overtaken, "cancelled", "operator")]);
    await waitDrained(sandbox);
    await produce(sandbox, [orderStatus(overtaken, "paid")]);
    await waitDrained(sandbox);

    for (const o of [inOrder, overtaken]) {
      expect(await orderRow(o.orderId)).toMatchObject({ status: "cancelled" });
      expect((await transitions(o.orderId)).map((t) => t.status).sort()).toEqual(["cancelled", "paid"]);
    }
    expect(await stockOf(s.saleId)).toBe(5);
  });
});

describe("a transition that cannot follow the order's status", () => {
  it("is kept beside the first end, which stays, and counted", async () => {
    const s = sale({ quantity: 2 });
    const o = heldOrder(s);
    const conflicts = await metric(worker.registry, "fluxgate_worker_transition_conflicts_total");
    await produce(sandbox, [s, o, orderStatus(o, "expired")]);
    await waitDrained(sandbox);
    // A buyer's cancel of a paid order is not the operator's: neither it nor a payment after the expiry changes anything.
    await produce(sandbox, [orderStatus(o, "paid"), orderStatus(o, "cancelled", "buyer")]);
    await waitDrained(sandbox);
    expect(await orderRow(o.orderId)).toMatchObject({ status: "expired" });
    expect((await transitions(o.orderId)).map((t) => t.status).sort()).toEqual(["cancelled", "expired", "paid"]);
    expect(await stockOf(s.saleId)).toBe(2);
    expect(await metric(worker.registry, "fluxgate_worker_transition_conflicts_total")).toBe(conflicts + 2);
  });
});

describe("a released unit sold again before its release arrives", () => {
  it("keeps the new order: the stock dips below 0 until the release comes, then counts the free units", async () => {
    // Quantity 1: the first buyer's hold expired at the edge and the unit went to the next in line,
    // whose order was forwarded at once; the expiry comes later through the relay.
    const s = sale({ quantity: 1 });
    const [first, next] = [heldOrder(s, 1_000), heldOrder(s)];
    await produce(sandbox, [s, first, next]);
    await waitDrained(sandbox);
    expect(await orderRow(next.orderId)).toMatchObject({ status: "held" });
    expect(await stockOf(s.saleId)).toBe(-1);

    await produce(sandbox, [orderStatus(first, "expired"), orderStatus(next, "paid")]);
    await waitDrained(sandbox);
    expect(await stockOf(s.saleId)).toBe(0);
    expect(await metric(worker.registry, "fluxgate_worker_dlq_total", { reason: "stock_exhausted" })).toBe(0);
  });
});

describe("1,000 statuses for 1,000 held orders, paid and expired, delivered with copies and out of order", () => {
  it("land exactly once each, and the stock is the initial minus the paid units", async () => {
    const s: SaleStarted = sale({ quantity: 1000 });
    const orders: OrderMessage[] = Array.from({ length: 1000 }, () => heldOrder(s));
    const statuses: OrderStatus[] = orders.map((o, i) => orderStatus(o, i % 3 === 0 ? "expired" : "paid"));
    const paidCount = statuses.filter((t) => t.status === "paid").length;
    // A third of the statuses before their orders, a tenth of everything twice.
    const early = statuses.filter((_, i) => i % 3 === 1);
    const late = statuses.filter((_, i) => i % 3 !== 1);
    const copies = [...orders, ...statuses].filter((_, i) => i % 10 === 0);
    await produce(sandbox, [s, ...early, ...orders, ...late, ...copies]);
    await waitDrained(sandbox);

    const { rows } = await sandbox.db.query(
      `SELECT o.status, count(*)::int AS orders, count(t.order_id)::int AS transitions
         FROM orders o LEFT JOIN order_transitions t USING (order_id) WHERE o.sale_id = $1 GROUP BY o.status ORDER BY o.status`,
      [s.saleId],
    );
    expect(rows).toEqual([
      { status: "expired", orders: 1000 - paidCount, transitions: 1000 - paidCount },
      { status: "paid", orders: paidCount, transitions: paidCount },
    ]);
    expect(await stockOf(s.saleId)).toBe(1000 - paidCount);
  });
});

describe("a status that can never be applied", () => {
  it("is dead-lettered, and the partition keeps flowing", async () => {
    const s = sale({ quantity: 2 });
    const held = heldOrder(s);
    const key = s.productId;
    const otherOrder = { key, raw: JSON.stringify({ ...orderStatus(held, "paid"), orderId: "order-someone-else" }) };
    const noHold = { key, raw: JSON.stringify(orderStatus(order(s), "paid")) };
    await produce(sandbox, [s, held, otherOrder, noHold, orderStatus(held, "paid")]);
    await waitDrained(sandbox);

    const dead = await readDeadLetters(sandbox, 2);
    expect(dead.map((d) => [d.headers[DlqHeaders.reason], d.headers[DlqHeaders.detail]])).toEqual([
      ["invalid_schema", expect.stringContaining("another order")],
      ["invalid_schema", expect.stringContaining("no hold")],
    ]);
    expect(await orderRow(held.orderId)).toMatchObject({ status: "paid" });
    expect(await stockOf(s.saleId)).toBe(1);
  });
});
