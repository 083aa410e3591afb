/**
 * A sale and its orders go through a worker into PostgreSQL: every order once, the stock taken
 * once per order, whatever Kafka delivers twice.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OrderMessage } from "@fluxgate/common";
import { consumerLag } from "@fluxgate/common/node";
import { createWorker, type Worker } from "../src/worker";
import { createSandbox, metric, order, produce, sale, testLogger, waitDrained, type Sandbox } from "./support";

let sandbox: Sandbox;
const workers: Worker[] = [];
const HEALTH_TOKEN = "worker-health-token-for-tests";
const start = async () => {
  const worker = createWorker(sandbox.config({ WORKER_HEALTH_TOKEN: HEALTH_TOKEN }), testLogger());
  workers.push(worker);
  await worker.start();
  return worker;
};

beforeAll(async () => {
  sandbox = await createSandbox("persist");
}, 60_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await sandbox?.cleanup();
}, 60_000);

const theSale = sale({ quantity: 1000 });
const orders: OrderMessage[] = Array.from({ length: 200 }, (_, i) => order(theSale, { quantity: 1 + (i % 3) }));
const sold = orders.reduce((sum, o) => sum + o.quantity, 0);

interface Snapshot {
  orders: Array<{ order_id: string; quantity: number; persisted_at: Date }>;
  sale: { stock: number; initial_stock: number; version: number; updated_at: Date };
}

async function snapshot(): Promise<Snapshot> {
  const rows = await sandbox.db.query("SELECT order_id, quantity, persisted_at FROM orders ORDER BY order_id");
  const sales = await sandbox.db.query("SELECT stock, initial_stock, version, updated_at FROM sales WHERE sale_id = $1", [theSale.saleId]);
  return { orders: rows.rows, sale: sales.rows[0] };
}

describe("a sale and 200 orders, 20 of them delivered twice", () => {
  let first: Worker;
  let before: Snapshot;

  it("persists each order once and takes its quantity from the stock once", async () => {
    // 20 exact duplicates (the relay re-sending what the forward already produced), mixed in.
    const duplicates = orders.filter((_, i) => i % 10 === 3);
    const stream: OrderMessage[] = [...orders];
    for (const [i, d] of duplicates.entries()) stream.splice(20 + i * 10, 0, { ...d });
    expect(stream).toHaveLength(220);

    first = await start();
    // Two batches: the second half is produced only once the first is committed.
    await produce(sandbox, [theSale, ...stream.slice(0, 110)]);
    await waitDrained(sandbox);
    await produce(sandbox, stream.slice(110));
    await waitDrained(sandbox);

    before = await snapshot();
    expect(before.orders).toHaveLength(200);
    expect(new Set(before.orders.map((o) => o.order_id))).toEqual(new Set(orders.map((o) => o.orderId)));
    expect(before.sale.initial_stock).toBe(1000);
    expect(before.sale.stock).toBe(1000 - sold);

    expect(await metric(first.registry, "fluxgate_worker_persisted_total")).toBe(200);
    expect(await metric(first.registry, "fluxgate_worker_duplicates_total")).toBe(20);
    expect(await metric(first.registry, "fluxgate_worker_sales_created_total")).toBe(1);
    expect(await metric(first.registry, "fluxgate_worker_dlq_total")).toBe(0);
    expect(await metric(first.registry, "fluxgate_worker_batch_seconds")).toBeGreaterThanOrEqual(2);
  });

  it("keeps what Kafka told it about the order", async () => {
    const { rows } = await sandbox.db.query(
      "SELECT sale_id, product_id, user_id, quantity, idempotency_key, accepted_at, kafka_partition, kafka_offset FROM orders WHERE order_id = $1",
      [orders[7]!.orderId],
    );
    const o = orders[7]!;
    expect(rows[0]).toMatchObject({
      sale_id: o.saleId,
      product_id: o.productId,
      user_id: o.userId,
      quantity: o.quantity,
      idempotency_key: o.idempotencyKey,
      accepted_at: new Date(o.acceptedAt),
    });
    expect(rows[0].kafka_partition).toBeTypeOf("number");
    expect(Number(rows[0].kafka_offset)).toBeGreaterThan(0);
  });

  it("answers /health (details with its token only) and /metrics", async () => {
    const health = await first.app.request("/health", { headers: { authorization: `Bearer ${HEALTH_TOKEN}` } });
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      service: "worker",
      status: "ok",
      dependencies: { kafka: { ok: true }, postgres: { ok: true } },
    });
    // Anyone else, a wrong token included, learns up or down only.
    for (const headers of [{}, { authorization: "Bearer not-the-token-at-all" }, { authorization: HEALTH_TOKEN }]) {
      const res = await first.app.request("/health", { headers });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: "ok" });
    }

    const res = await first.app.request("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toMatch(/^fluxgate_worker_persisted_total 200$/m);
    expect(text).toMatch(/^fluxgate_worker_duplicates_total 20$/m);
    expect(text).toMatch(/^fluxgate_worker_dlq_total\{reason="stock_exhausted"\} 0$/m);
    expect(text).toMatch(/^fluxgate_worker_persisted_per_second \d/m);
    expect(text).toMatch(/^fluxgate_worker_batch_seconds_count \d+$/m);
    // The lag gauge follows the committed offsets (polled every 500 ms here).
    await expect
      .poll(async () => (await (await first.app.request("/metrics")).text()).match(/^fluxgate_worker_consumer_lag\{partition="\d+"\} 0$/gm)?.length ?? 0)
      .toBe(3);
  });

  it("changes nothing when the whole topic is delivered again", async () => {
    await first.stop();
    await sandbox.admin.resetOffsets({ groupId: sandbox.group, topic: sandbox.topic, earliest: true });
    const lag = await consumerLag(sandbox.admin, sandbox.group, sandbox.topic);
    expect([...lag.values()].reduce((a, b) => a + b, 0)).toBe(221);

    const second = await start();
    await waitDrained(sandbox);

    expect(await snapshot()).toEqual(before);
    expect(await metric(second.registry, "fluxgate_worker_persisted_total")).toBe(0);
    expect(await metric(second.registry, "fluxgate_worker_duplicates_total")).toBe(220);
    expect(await metric(second.registry, "fluxgate_worker_sales_created_total")).toBe(0);
  });

  it("stops cleanly, twice", async () => {
    const worker = workers.at(-1)!;
    await Promise.all([worker.stop(), worker.stop()]);
    await worker.stop();
    const health = await worker.app.request("/health");
    expect(health.status).toBe(503);
  });
});
