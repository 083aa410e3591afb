/**
 * Taking stock when another transaction (another partition's batch, another worker) takes from the
 * same sale at the same time: the optimistic update notices, re-reads and retries; nothing is
 * taken twice or lost, with or without Kafka in between.
 */
import type { OrderMessage } from "@fluxgate/common";
import { afterAll, beforeAll, expect, it } from "vitest";
import { processBatch } from "../src/batch";
import { createPool } from "../src/db";
import { migrate } from "../src/migrate";
import { createWorker, type Worker } from "../src/worker";
import { createSandbox, metric, order, produce, sale, testLogger, waitDrained, waitFor, type Sandbox } from "./support";

let sandbox: Sandbox;
const workers: Worker[] = [];
const message = (e: object, offset: number) => ({ offset: String(offset), value: Buffer.from(JSON.stringify(e)) });

beforeAll(async () => {
  sandbox = await createSandbox("stock");
  await migrate(sandbox.db, testLogger(), sandbox.schema);
}, 60_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await sandbox?.cleanup();
}, 60_000);

it("retries the stock update when the sale changed between its read and its update", async () => {
  const pool = createPool({ DATABASE_URL: sandbox.config().DATABASE_URL, DATABASE_SCHEMA: sandbox.schema }, testLogger(), 2);
  try {
    const theSale = sale({ quantity: 10 });
    await processBatch(pool, { partition: 0, messages: [message(theSale, 0)] });

    // Another transaction takes 1 and holds the row until we say so.
    const other = await sandbox.db.connect();
    await other.query("BEGIN");
    await other.query("UPDATE sales SET stock = stock - 1, version = version + 1 WHERE sale_id = $1", [theSale.saleId]);
    const otherPid = (await other.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;

    const orders = [order(theSale), order(theSale), order(theSale)];
    const running = processBatch(pool, { partition: 0, messages: orders.map((o, i) => message(o, i + 1)) });
    // The batch read version 0 and now waits on the row lock in its UPDATE … WHERE version = 0.
    await waitFor("the batch to wait for the row lock", async () => {
      const { rows } = await sandbox.db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", [otherPid]);
      return rows[0].n > 0;
    });
    await other.query("COMMIT");
    other.release();

    const result = await running;
    expect(result.stockConflicts).toBe(1);
    expect(result.persisted.map((p) => p.orderId)).toEqual(orders.map((o) => o.orderId));
    const { rows } = await sandbox.db.query("SELECT stock, version FROM sales WHERE sale_id = $1", [theSale.saleId]);
    expect(rows[0]).toEqual({ stock: 10 - 1 - 3, version: 2 });
  } finally {
    await pool.end();
  }
});

it("takes the right stock when one sale's orders arrive on every partition at once", async () => {
  const theSale = sale({ quantity: 100_000 });
  await produce(sandbox, [theSale]);
  // Keyed by order, not product: the sale's orders land on all three partitions, processed concurrently.
  const orders: OrderMessage[] = Array.from({ length: 6000 }, (_, i) => order(theSale, { quantity: 1 + (i % 4) }));
  const worker = createWorker(sandbox.config({ WORKER_PARTITIONS_CONCURRENCY: "3", WORKER_MAX_BYTES_PER_PARTITION: "16384" }), testLogger());
  workers.push(worker);
  await worker.start();
  await waitDrained(sandbox);
  await produce(
    sandbox,
    orders.map((o) => ({ key: o.orderId, raw: JSON.stringify(o) })),
  );
  await waitDrained(sandbox);

  const sold = orders.reduce((sum, o) => sum + o.quantity, 0);
  const { rows } = await sandbox.db.query("SELECT stock FROM sales WHERE sale_id = $1", [theSale.saleId]);
  expect(rows[0].stock).toBe(100_000 - sold);
  const count = await sandbox.db.query("SELECT count(*)::int AS n FROM orders WHERE sale_id = $1", [theSale.saleId]);
  expect(count.rows[0].n).toBe(orders.length);
  expect(await metric(worker.registry, "fluxgate_worker_persisted_total")).toBe(orders.length);
});
