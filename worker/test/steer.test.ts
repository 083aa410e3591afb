/**
 * Operators' controls (SaleSteered) through Kafka into PostgreSQL: added stock raises the sale's
 * stock once, whatever Kafka delivers twice and whichever comes first of the control and the orders
 * for the units it added; every control is kept once in sale_events, in any order of delivery.
 */
import type { SaleStarted } from "@fluxgate/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DlqHeaders } from "../src/dlq";
import { createWorker, type Worker } from "../src/worker";
import { createSandbox, metric, order, produce, readDeadLetters, sale, steered, testLogger, waitDrained, type Sandbox } from "./support";

let sandbox: Sandbox;
let worker: Worker;
const start = async () => {
  worker = createWorker(sandbox.config(), testLogger());
  await worker.start();
};

beforeAll(async () => {
  sandbox = await createSandbox("steer");
  await start();
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await sandbox?.cleanup();
}, 60_000);

async function saleRow(saleId: string) {
  const { rows } = await sandbox.db.query("SELECT initial_stock, added_stock, stock, version FROM sales WHERE sale_id = $1", [saleId]);
  return rows[0] as { initial_stock: number; added_stock: number; stock: number; version: number } | undefined;
}

async function controls(saleId: string) {
  const { rows } = await sandbox.db.query("SELECT version, action, by_label, at, changes FROM sale_events WHERE sale_id = $1 ORDER BY version", [saleId]);
  return rows;
}

const ordersOf = async (saleId: string) =>
  (await sandbox.db.query("SELECT count(*)::int AS n, coalesce(sum(quantity), 0)::int AS units FROM orders WHERE sale_id = $1", [saleId])).rows[0];

describe("a sold-out sale restocked with 8 units, its control delivered three times", () => {
  const restocked = sale({ quantity: 10, perUserLimit: 1 });
  const control = steered(restocked, 2, "update", { addStock: 8 });
  const after: SaleStarted = { ...restocked, added: 8 };
  let before: Awaited<ReturnType<typeof saleRow>>;

  it("raises the stock and added_stock once, and sells the added units", async () => {
    const soldOut = Array.from({ length: 10 }, () => order(restocked));
    await produce(sandbox, [restocked, ...soldOut]);
    await waitDrained(sandbox);
    expect(await saleRow(restocked.saleId)).toMatchObject({ initial_stock: 10, added_stock: 0, stock: 0 });

    // The relay re-sending what the forward produced: the same control, three times.
    const fromAdded = Array.from({ length: 5 }, () => order(after));
    await produce(sandbox, [control, { ...control }, ...fromAdded.slice(0, 2), { ...control }, ...fromAdded.slice(2)]);
    await waitDrained(sandbox);

    before = await saleRow(restocked.saleId);
    expect(before).toMatchObject({ initial_stock: 10, added_stock: 8, stock: 8 - 5 });
    expect(await ordersOf(restocked.saleId)).toEqual({ n: 15, units: 15 });
    expect(await controls(restocked.saleId)).toEqual([
      { version: 2, action: "update", by_label: "ops-oncall", at: new Date(control.at), changes: { addStock: 8 } },
    ]);
    expect(await metric(worker.registry, "fluxgate_worker_sale_controls_total")).toBe(1);
    expect(await metric(worker.registry, "fluxgate_worker_stock_raised_total")).toBe(1);
    expect(await metric(worker.registry, "fluxgate_worker_dlq_total")).toBe(0);
  });

  it("changes nothing when the whole topic is delivered again", async () => {
    const events = await controls(restocked.saleId);
    await worker.stop();
    await sandbox.admin.resetOffsets({ groupId: sandbox.group, topic: sandbox.topic, earliest: true });
    await start();
    await waitDrained(sandbox);

    expect(await saleRow(restocked.saleId)).toEqual(before);
    expect(await controls(restocked.saleId)).toEqual(events);
    expect(await ordersOf(restocked.saleId)).toEqual({ n: 15, units: 15 });
    expect(await metric(worker.registry, "fluxgate_worker_sale_controls_total")).toBe(0);
    expect(await metric(worker.registry, "fluxgate_worker_stock_raised_total")).toBe(0);
  });
});

describe("an order for an added unit ahead of the control that added it", () => {
  it("is persisted at once, the stock never below 0, and the late control adds nothing more", async () => {
    const small = sale({ quantity: 2 });
    const withAdded: SaleStarted = { ...small, added: 3 };
    // The edge sold an added unit; the control's forward failed and the relay brings it later.
    const early = [order(small), order(small), order(withAdded)];
    await produce(sandbox, [small, ...early]);
    await waitDrained(sandbox);
    expect(await saleRow(small.saleId)).toMatchObject({ initial_stock: 2, added_stock: 3, stock: 2 + 3 - 3 });
    expect(await ordersOf(small.saleId)).toEqual({ n: 3, units: 3 });

    await produce(sandbox, [steered(small, 2, "update", { addStock: 3 }), order(withAdded)]);
    await waitDrained(sandbox);
    expect(await saleRow(small.saleId)).toMatchObject({ initial_stock: 2, added_stock: 3, stock: 1 });
    expect(await controls(small.saleId)).toHaveLength(1);
  });

  it("creates the sale with its added stock when the control comes before the sale's own event", async () => {
    const late = sale({ quantity: 5 });
    await produce(sandbox, [steered(late, 1, "update", { addStock: 4 })]);
    await waitDrained(sandbox);
    expect(await saleRow(late.saleId)).toMatchObject({ initial_stock: 5, added_stock: 4, stock: 9 });

    await produce(sandbox, [late, order(late)]);
    await waitDrained(sandbox);
    expect(await saleRow(late.saleId)).toMatchObject({ initial_stock: 5, added_stock: 4, stock: 8 });
  });
});

describe("pause, resume and update", () => {
  it("land in sale_events once each, whatever the order and number of deliveries, and leave the stock alone", async () => {
    const paced = sale({ quantity: 100 });
    const pause = steered(paced, 2, "pause", {}, "alice@ops");
    const resume = steered(paced, 3, "resume", {}, "alice@ops");
    const update = steered(paced, 4, "update", { ratePerSecond: 2.5, burst: 10, endsAt: 1_893_456_000_000, ticketTtlSeconds: 60 });
    await produce(sandbox, [paced]);
    // v3 before v2, each in a batch of its own, and v4 twice.
    await produce(sandbox, [resume]);
    await waitDrained(sandbox);
    await produce(sandbox, [pause, update, { ...update }, { ...resume }]);
    await waitDrained(sandbox);

    expect(await controls(paced.saleId)).toEqual(
      [pause, resume, update].map((c) => ({ version: c.version, action: c.action, by_label: c.by, at: new Date(c.at), changes: c.changes })),
    );
    expect(await saleRow(paced.saleId)).toEqual({ initial_stock: 100, added_stock: 0, stock: 100, version: 0 });
  });

  it("dead-letters a control that can never be stored, and keeps the partition flowing", async () => {
    const sold = sale({ quantity: 10 });
    const key = sold.productId;
    const nothingChanged = { key, raw: JSON.stringify(steered(sold, 2, "update", {})) };
    const hugeVersion = { key, raw: JSON.stringify(steered(sold, 2 ** 31, "pause")) };
    await produce(sandbox, [sold, nothingChanged, hugeVersion, steered(sold, 3, "pause"), order(sold)]);
    await waitDrained(sandbox);

    const dead = await readDeadLetters(sandbox, 2);
    expect(dead.map((d) => [d.headers[DlqHeaders.reason], d.headers[DlqHeaders.detail]])).toEqual([
      ["invalid_schema", expect.stringContaining("at least one setting")],
      ["invalid_schema", expect.stringContaining("version")],
    ]);
    expect((await controls(sold.saleId)).map((c) => c.version)).toEqual([3]);
    expect(await saleRow(sold.saleId)).toMatchObject({ stock: 9 });
  });
});
