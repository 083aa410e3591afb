/**
 * Messages that can never be persisted go to the dead-letter topic with their reason, and the
 * partition keeps flowing: the orders after them are persisted.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { DlqHeaders } from "../src/dlq";
import { createWorker, type Worker } from "../src/worker";
import { createSandbox, metric, order, produce, readDeadLetters, sale, testLogger, waitDrained, type Outgoing, type Sandbox } from "./support";

let sandbox: Sandbox;
let worker: Worker;

beforeAll(async () => {
  sandbox = await createSandbox("dlq");
  worker = createWorker(sandbox.config(), testLogger());
  await worker.start();
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await sandbox?.cleanup();
}, 60_000);

it("sends invalid and over-stock orders to the DLQ and persists the orders after them", async () => {
  const theSale = sale({ quantity: 100 });
  const key = theSale.productId; // one key: everything in one partition, in this order
  const valid = Array.from({ length: 10 }, () => order(theSale, { quantity: 2 }));
  const notUtf8Json = { key, raw: "{ this is not json", headers: { "x-trace": "abc" } };
  const wrongShape = { key, raw: JSON.stringify({ ...order(theSale), quantity: 0 }) };
  const newerVersion = { key, raw: JSON.stringify({ ...order(theSale), v: 2 }) };
  const nulInId = { key, raw: JSON.stringify({ ...order(theSale), orderId: "a\u0000b" }) };
  const tombstone = { key, raw: null };

  const stream: Outgoing[] = [theSale, valid[0]!, notUtf8Json, valid[1]!, wrongShape, newerVersion, nulInId, tombstone, ...valid.slice(2)];
  await produce(sandbox, stream);
  await waitDrained(sandbox);

  const dead = await readDeadLetters(sandbox, 5);
  expect(dead.map((d) => d.headers[DlqHeaders.reason])).toEqual(["invalid_json", "invalid_schema", "invalid_schema", "invalid_schema", "invalid_json"]);
  // The original message, untouched, with where it came from.
  expect(dead[0]).toMatchObject({ key, value: notUtf8Json.raw });
  expect(dead[0]!.headers).toMatchObject({
    "x-trace": "abc",
    [DlqHeaders.topic]: sandbox.topic,
    [DlqHeaders.offset]: "2",
  });
  expect(dead[0]!.headers[DlqHeaders.partition]).toMatch(/^\d+$/);
  expect(dead[1]!.headers[DlqHeaders.detail]).toContain("quantity");
  expect(dead[2]!.headers[DlqHeaders.offset]).toBe("5");
  expect(dead[4]!.value).toBeNull();

  // The partition kept flowing: every valid order is there, with its stock taken.
  const { rows } = await sandbox.db.query("SELECT order_id FROM orders WHERE sale_id = $1", [theSale.saleId]);
  expect(rows.map((r) => r.order_id).sort()).toEqual(valid.map((o) => o.orderId).sort());
  const stock = await sandbox.db.query("SELECT stock FROM sales WHERE sale_id = $1", [theSale.saleId]);
  expect(stock.rows[0].stock).toBe(100 - 20);

  expect(await metric(worker.registry, "fluxgate_worker_dlq_total", { reason: "invalid_json" })).toBe(2);
  expect(await metric(worker.registry, "fluxgate_worker_dlq_total", { reason: "invalid_schema" })).toBe(3);
  expect(await metric(worker.registry, "fluxgate_worker_persisted_total")).toBe(10);
});

it("never lets the stock go negative: orders beyond it go to the DLQ as stock_exhausted", async () => {
  const small = sale({ quantity: 5 });
  const orders = [order(small, { quantity: 2 }), order(small, { quantity: 2 }), order(small, { quantity: 2 }), order(small, { quantity: 1 })];
  await produce(sandbox, [small, ...orders]);
  await waitDrained(sandbox);

  const dead = await readDeadLetters(sandbox, 6);
  expect(dead[5]!.headers[DlqHeaders.reason]).toBe("stock_exhausted");
  expect(JSON.parse(dead[5]!.value!).orderId).toBe(orders[2]!.orderId);

  const { rows } = await sandbox.db.query("SELECT order_id FROM orders WHERE sale_id = $1", [small.saleId]);
  expect(rows.map((r) => r.order_id).sort()).toEqual([orders[0]!.orderId, orders[1]!.orderId, orders[3]!.orderId].sort());
  const stock = await sandbox.db.query("SELECT stock FROM sales WHERE sale_id = $1", [small.saleId]);
  expect(stock.rows[0].stock).toBe(0);
  expect(await metric(worker.registry, "fluxgate_worker_dlq_total", { reason: "stock_exhausted" })).toBe(1);
});

it("persists an order that arrives before its sale event at once, and the late event changes nothing", async () => {
  const late = sale({ quantity: 10 });
  const early = order(late, { quantity: 3 });
  const after = order(late, { quantity: 2 });
  // The sale's forward failed; the relay delivers it a moment after the order went through.
  await produce(sandbox, [early]);
  await waitDrained(sandbox);
  const before = await sandbox.db.query("SELECT stock, initial_stock, per_user_limit, started_at FROM sales WHERE sale_id = $1", [late.saleId]);
  expect(before.rows[0]).toEqual({ stock: 10 - 3, initial_stock: 10, per_user_limit: late.perUserLimit, started_at: new Date(late.startedAt) });
  await produce(sandbox, [late, after]);
  await waitDrained(sandbox);
  const rows = await sandbox.db.query("SELECT order_id FROM orders WHERE sale_id = $1", [late.saleId]);
  expect(rows.rows.map((r) => r.order_id).sort()).toEqual([early.orderId, after.orderId].sort());
  const stock = await sandbox.db.query("SELECT stock FROM sales WHERE sale_id = $1", [late.saleId]);
  expect(stock.rows[0].stock).toBe(10 - 5);
});

it("never dead-letters an accepted order for its age: a sale whose event never came, orders accepted 10 minutes ago", async () => {
  // The origin was down across /init (the sale event is still in the outbox) and this worker lags:
  // its orders are old by the time it reads them. Each one carries its sale's terms.
  const lost = sale({ quantity: 50, perUserLimit: 2 });
  const tenMinutesAgo = Date.now() - 10 * 60_000;
  const orders = Array.from({ length: 20 }, () => order(lost, { quantity: 2, acceptedAt: tenMinutesAgo }));
  const deadBefore = await metric(worker.registry, "fluxgate_worker_dlq_total");
  await produce(sandbox, orders);
  await waitDrained(sandbox);

  const rows = await sandbox.db.query("SELECT order_id FROM orders WHERE sale_id = $1", [lost.saleId]);
  expect(rows.rows.map((r) => r.order_id).sort()).toEqual(orders.map((o) => o.orderId).sort());
  const stock = await sandbox.db.query("SELECT stock, initial_stock FROM sales WHERE sale_id = $1", [lost.saleId]);
  expect(stock.rows[0]).toEqual({ stock: 50 - 40, initial_stock: 50 });
  expect(await metric(worker.registry, "fluxgate_worker_dlq_total")).toBe(deadBefore);
});
