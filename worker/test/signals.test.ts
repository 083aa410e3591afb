/**
 * The worker process (src/main.ts) on SIGTERM: it finishes and commits the batch in flight, leaves
 * the group and exits 0 — what it wrote to PostgreSQL and what it committed to Kafka agree.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { createSandbox, order, produce, sale, spawnWorker, waitFor, type Sandbox } from "./support";

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await createSandbox("signals");
}, 60_000);

afterAll(async () => {
  await sandbox?.cleanup();
}, 60_000);

it("SIGTERM mid-backlog: exits 0 with every persisted order committed, and nothing committed unpersisted", async () => {
  const theSale = sale({ quantity: 100_000 });
  const orders = Array.from({ length: 20_000 }, () => order(theSale));
  await produce(sandbox, [theSale, ...orders]); // one product: one partition, the sale event at offset 0

  const { child, exited } = spawnWorker(sandbox, { WORKER_MAX_BYTES_PER_PARTITION: "65536" });
  try {
    await waitFor(
      "the worker to persist some orders",
      async () => (await sandbox.db.query("SELECT count(*)::int AS n FROM orders")).rows[0].n > 1000,
      60_000,
      20,
    );
  } finally {
    child.kill("SIGTERM");
  }
  expect(await exited).toBe(0);

  const { rows } = await sandbox.db.query<{ p: number; last: string; n: number }>(
    "SELECT kafka_partition AS p, max(kafka_offset) AS last, count(*)::int AS n FROM orders GROUP BY 1",
  );
  const [committed] = await sandbox.admin.fetchOffsets({ groupId: sandbox.group, topics: [sandbox.topic] });
  let total = 0;
  expect(rows).toHaveLength(1);
  for (const r of rows) {
    // The sale event, then orders persisted in offset order: the committed offset is right after
    // the last order persisted, and every offset before it (but the sale's) is a row.
    const offset = Number(committed!.partitions.find((c) => c.partition === r.p)!.offset);
    expect(offset).toBe(Number(r.last) + 1);
    expect(r.n).toBe(offset - 1);
    total += r.n;
  }
  expect(total).toBeLessThan(orders.length);
});
