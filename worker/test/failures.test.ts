/**
 * When PostgreSQL fails: a failure of the database is retried until it passes (nothing skipped,
 * nothing committed meanwhile); a message the database itself refuses is isolated and dead-lettered.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { DlqHeaders } from "../src/dlq";
import { consumerLag } from "@fluxgate/common/node";
import { createWorker, type Worker } from "../src/worker";
import { createSandbox, metric, order, produce, readDeadLetters, sale, testLogger, waitDrained, waitFor, type Sandbox } from "./support";

let sandbox: Sandbox;
let worker: Worker;

beforeAll(async () => {
  sandbox = await createSandbox("failures");
  worker = createWorker(sandbox.config({ WORKER_RETRY_MAX_MS: "300" }), testLogger());
  await worker.start();
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await sandbox?.cleanup();
}, 60_000);

it("retries a batch while the database fails, then persists it: nothing skipped", async () => {
  const theSale = sale({ quantity: 50 });
  await produce(sandbox, [theSale]);
  await waitDrained(sandbox);

  // The table is away (a botched deploy, a restore): every attempt fails.
  await sandbox.db.query("ALTER TABLE orders RENAME TO orders_away");
  const orders = Array.from({ length: 20 }, () => order(theSale));
  await produce(sandbox, orders);
  await waitFor("retries", async () => (await metric(worker.registry, "fluxgate_worker_batch_retries_total")) >= 3, 30_000);
  const lag = await consumerLag(sandbox.admin, sandbox.group, sandbox.topic);
  expect([...lag.values()].reduce((a, b) => a + b, 0)).toBe(20); // not committed

  await sandbox.db.query("ALTER TABLE orders_away RENAME TO orders");
  await waitDrained(sandbox);
  const { rows } = await sandbox.db.query("SELECT count(*)::int AS n FROM orders WHERE sale_id = $1", [theSale.saleId]);
  expect(rows[0].n).toBe(20);
  expect((await sandbox.db.query("SELECT stock FROM sales WHERE sale_id = $1", [theSale.saleId])).rows[0].stock).toBe(30);
  expect(await metric(worker.registry, "fluxgate_worker_dlq_total")).toBe(0);
});

it("dead-letters the messages PostgreSQL refuses and persists the rest of their batch", async () => {
  // A rule the zod schema does not know about: PostgreSQL refuses that row (23514), whatever the retry.
  await sandbox.db.query("ALTER TABLE orders ADD CONSTRAINT test_no_poison CHECK (user_id <> 'poison')");
  const theSale = sale({ quantity: 50 });
  const bad = new Set([4, 11]);
  const orders = Array.from({ length: 20 }, (_, i) => order(theSale, { userId: bad.has(i) ? "poison" : `user-${i}` }));
  await produce(sandbox, [theSale, ...orders]);
  await waitDrained(sandbox);

  const dead = await readDeadLetters(sandbox, 2);
  expect(dead.map((d) => d.headers[DlqHeaders.reason])).toEqual(["rejected", "rejected"]);
  expect(dead[0]!.headers[DlqHeaders.detail]).toContain("test_no_poison");
  expect(dead.map((d) => JSON.parse(d.value!).orderId)).toEqual([orders[4]!.orderId, orders[11]!.orderId]);

  const { rows } = await sandbox.db.query("SELECT order_id FROM orders WHERE sale_id = $1", [theSale.saleId]);
  expect(rows.map((r) => r.order_id).sort()).toEqual(
    orders
      .filter((_, i) => !bad.has(i))
      .map((o) => o.orderId)
      .sort(),
  );
  expect((await sandbox.db.query("SELECT stock FROM sales WHERE sale_id = $1", [theSale.saleId])).rows[0].stock).toBe(50 - 18);
  expect(await metric(worker.registry, "fluxgate_worker_dlq_total", { reason: "rejected" })).toBe(2);
});
