/**
 * A worker stopped — or killed — in the middle of a backlog loses nothing and duplicates nothing:
 * offsets are committed only after the transaction, so what was in flight comes again, and comes
 * again harmlessly.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OrderMessage, SaleStarted } from "@fluxgate/common";
import type { BatchCommitted } from "../src/consumer";
import { createWorker, type Worker } from "../src/worker";
import { createSandbox, metric, order, produce, sale, spawnWorker, testLogger, waitDrained, waitFor, type Sandbox } from "./support";

let sandbox: Sandbox;
const workers: Worker[] = [];
// Small fetches: a backlog takes many batches, so there is a batch in flight to interrupt.
const small = { WORKER_MAX_BYTES_PER_PARTITION: "65536", WORKER_SESSION_TIMEOUT_MS: "6000", WORKER_HEARTBEAT_INTERVAL_MS: "500" };

beforeAll(async () => {
  sandbox = await createSandbox("shutdown");
}, 60_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await sandbox?.cleanup();
}, 60_000);

/** A sale per partition's worth of products and `n` orders spread over them. */
function backlog(n: number, stock: number): { sales: SaleStarted[]; orders: OrderMessage[] } {
  const sales = Array.from({ length: 4 }, () => sale({ quantity: stock }));
  const orders = Array.from({ length: n }, (_, i) => order(sales[i % sales.length]!, { quantity: 1 + (i % 2) }));
  return { sales, orders };
}

async function expectExactlyOnce(sales: SaleStarted[], orders: OrderMessage[]) {
  const ids = sales.map((s) => s.saleId);
  const { rows } = await sandbox.db.query("SELECT count(*)::int AS n, count(DISTINCT order_id)::int AS d FROM orders WHERE sale_id = ANY($1)", [ids]);
  expect(rows[0]).toEqual({ n: orders.length, d: orders.length });
  const stocks = await sandbox.db.query("SELECT sale_id, initial_stock - stock AS taken FROM sales WHERE sale_id = ANY($1)", [ids]);
  for (const s of sales) {
    const sold = orders.filter((o) => o.saleId === s.saleId).reduce((sum, o) => sum + o.quantity, 0);
    expect(stocks.rows.find((r) => r.sale_id === s.saleId)?.taken).toBe(sold);
  }
}

describe("a worker that stops in the middle of a backlog", () => {
  it("stop() lets the batch in flight commit; the next worker persists exactly the rest", async () => {
    const { sales, orders } = backlog(20_000, 100_000);
    await produce(sandbox, [...sales, ...orders]);

    let stopping: Promise<void> | undefined;
    const committed: BatchCommitted[] = [];
    const first = createWorker(sandbox.config(small), testLogger(), {
      onBatchCommitted: (b) => {
        committed.push(b);
        stopping ??= first.stop(); // right after the first batch commits, with others in flight
      },
    });
    workers.push(first);
    await first.start();
    await waitFor("the first batch", async () => stopping !== undefined);
    await stopping;

    const persistedByFirst = await metric(first.registry, "fluxgate_worker_persisted_total");
    const { rows } = await sandbox.db.query("SELECT count(*)::int AS n FROM orders");
    expect(rows[0].n).toBe(persistedByFirst); // what it counted is what is there: no half-batch
    expect(persistedByFirst).toBeLessThan(orders.length);

    const second = createWorker(sandbox.config(small), testLogger());
    workers.push(second);
    await second.start();
    await waitDrained(sandbox, sandbox.group, 90_000);
    await expectExactlyOnce(sales, orders);
    // Whatever the first one persisted after its last commit was delivered again, and ignored.
    expect(persistedByFirst + (await metric(second.registry, "fluxgate_worker_persisted_total"))).toBe(orders.length);
    await second.stop();
  });

  it("kill -9 of the worker process mid-batch loses nothing; a new worker drains the rest", async () => {
    const group = `${sandbox.group}-killed`;
    const { sales, orders } = backlog(30_000, 100_000);
    await produce(sandbox, [...sales, ...orders]);
    const already = (await sandbox.db.query("SELECT count(*)::int AS n FROM orders")).rows[0].n as number;

    const config = sandbox.config({ ...small, CONSUMER_GROUP: group });
    const { child, exited } = spawnWorker(sandbox, { ...small, CONSUMER_GROUP: group });
    try {
      // The sandbox's topic also holds the previous test's orders (all persisted): wait for new ones.
      await waitFor(
        "the child worker to persist some of the backlog",
        async () => (await sandbox.db.query("SELECT count(*)::int AS n FROM orders")).rows[0].n > already + 2000,
        60_000,
        20,
      );
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
    const atKill = (await sandbox.db.query("SELECT count(*)::int AS n FROM orders")).rows[0].n as number;
    expect(atKill).toBeLessThan(already + orders.length);

    const next = createWorker(config, testLogger());
    workers.push(next);
    await next.start();
    await waitDrained(sandbox, group, 90_000);
    await expectExactlyOnce(sales, orders);
  });
});
