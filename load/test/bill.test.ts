import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ensureDevVars, stackHome } from "@fluxgate/stack";
import { describe, expect, inject, it } from "vitest";
import type {} from "../../stack/test/global-setup";
import { BILL_TARGETS, billPer, describeBill } from "../src/bench/bill";
import { billHolds, type HoldsBillTarget } from "../src/bench/bill-holds";
import { billIdle, billOrders } from "../src/bench/bill-runs";

/**
 * The whole system's Upstash bill, counted on the real redis the way Upstash counts (every
 * command each component's connections send, by MONITOR), against the running stack: the edge
 * (through the bridge: the stack's `wrangler dev`, as a user runs it), the origin's forward
 * confirmations and its relay.
 */
const stack = inject("stack");
const dir = join(stackHome().root, "bench");
mkdirSync(dir, { recursive: true });
const runId = `bill-${Date.now().toString(36)}`;
const vars = ensureDevVars();
const target: HoldsBillTarget = {
  edge: new URL(stack.edge.url),
  adminToken: vars.get("ADMIN_TOKEN")!,
  shopToken: vars.get("SHOP_API_TOKEN")!,
  databaseUrl: stack.postgres.url,
  originMetricsUrl: stack.origin.metricsUrl,
  redisUrl: stack.redis.url,
  issuer: stack.issuer.url,
  dir,
};

describe("the Upstash bill", { timeout: 240_000 }, () => {
  it("is at most 1.1 commands per accepted order, edge + origin, over 1,000 orders", async () => {
    const run = await billOrders(target, { productId: `${runId}-orders`, orders: 1000, concurrency: 16 });
    console.log(
      `billed commands per accepted order at ${(run.accepted / run.sellingSeconds).toFixed(0)} orders/s: ${describeBill(run.bill, run.accepted)}`,
      run.bill.byCommand,
    );
    expect(run.accepted).toBe(1000);
    // Exactly one per order from the edge: an extra edge command shows here, not only in the total.
    expect(run.bill.commands.edge).toBe(1000);
    expect(billPer(run.bill, run.accepted).total).toBeLessThanOrEqual(BILL_TARGETS.perOrder);
  });

  it("is at most 2.1 commands per paid order of a sale with holds: the gate call and the shop's confirmation, and no sweep", async () => {
    const run = await billHolds(target, { productId: `${runId}-paid`, orders: 300, concurrency: 16, holdSeconds: 3, pay: true });
    console.log(`billed commands per paid order: ${describeBill(run.bill, run.paid)}`, run.bill.byCommand);
    expect(run.paid).toBe(300);
    expect(run.bill.commands.edge).toBe(2 * 300);
    expect(run.sweeps).toBe(0);
    expect(billPer(run.bill, run.paid).total).toBeLessThanOrEqual(BILL_TARGETS.perPaidOrder);
  });

  it.each([0, 100])("is at most 0.2 commands per second while idle, with %i open sales", async (openSales) => {
    const run = await billIdle(target, { seconds: 30, openSales, runId: `${runId}-${openSales}` });
    console.log(`idle with ${openSales} open sales (${run.registered} registered): ${describeBill(run.bill, run.bill.seconds)} commands/s`, run.bill.byCommand);
    expect(billPer(run.bill, run.bill.seconds).total).toBeLessThanOrEqual(BILL_TARGETS.idlePerSecond);
  });
});
