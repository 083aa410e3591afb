import { describe, expect, it } from "vitest";
import { ADMIN, call, initSale, order, uniqueProduct } from "./helpers";

type Stats = {
  remaining: number;
  sold: number;
  queued: number;
  bill: {
    commands: { edge: number; forward: number; relay: number; total: number };
    perAcceptedOrder: number;
    lastMinutePerSecond: { total: number };
    costUsd: number;
    priceUsdPer100k: number;
  };
  series: { accepted: number; throttled: number; soldOut: number; remaining: number; queued: number }[];
};
const sum = (stats: Stats, key: "accepted" | "throttled" | "soldOut") => stats.series.reduce((n, s) => n + s[key], 0);

describe("the operator's figures", () => {
  it("count what the gate decided, per second, and the stock and line levels", async () => {
    const productId = uniqueProduct("ops");
    await initSale({ productId, quantity: 3, ratePerSecond: 1, burst: 4 });
    // Four tokens for four simultaneous buyers: three buy, the fourth is told sold out (by the gate,
    // or from the isolate's memory once a gate call in flight brought back "sold out").
    const statuses = await Promise.all(Array.from({ length: 4 }, (_, i) => order({ productId, userId: `u${i}` }).then((r) => r.status)));
    expect(statuses.sort()).toEqual([200, 200, 200, 409]);

    const other = uniqueProduct("ops-queue");
    await initSale({ productId: other, quantity: 10, ratePerSecond: 1, burst: 1 });
    await Promise.all(Array.from({ length: 3 }, (_, i) => order({ productId: other, userId: `q${i}` })));

    const res = await call(`/admin/sales/${productId}`, { headers: ADMIN });
    expect(res.status).toBe(200);
    const stats = await res.json<Stats>();
    expect(stats).toMatchObject({ remaining: 0, sold: 3, queued: 0 });
    expect(sum(stats, "accepted")).toBe(3);
    // A sold-out answered from memory is counted with the isolate's next gate call, not before.
    expect(sum(stats, "soldOut")).toBeLessThanOrEqual(1);
    expect(stats.series.at(-1)!.remaining).toBe(0);
    // One billed command per gate call: the three that bought and a sold-out the gate answered (one
    // answered from memory costs none); the origin's share is booked by the origin itself.
    expect(stats.bill.commands.edge).toBe(3 + sum(stats, "soldOut"));
    expect(stats.bill.commands.total).toBe(stats.bill.commands.edge + stats.bill.commands.forward + stats.bill.commands.relay);
    expect(stats.bill.perAcceptedOrder).toBeCloseTo(stats.bill.commands.total / 3);
    expect(stats.bill.costUsd).toBeCloseTo((stats.bill.commands.total / 100_000) * stats.bill.priceUsdPer100k);

    const queued = await (await call(`/admin/sales/${other}`, { headers: ADMIN })).json<Stats>();
    expect(sum(queued, "accepted")).toBe(1);
    expect(sum(queued, "throttled")).toBe(2);
    expect(queued.queued).toBe(2);
    expect(queued.series.at(-1)!.queued).toBe(2);
  });

  it("show what the on-call engineer watches: the rate's target, Upstash as the edge sees it, and the pipeline as the origin sees it", async () => {
    const productId = uniqueProduct("ops-oncall");
    await initSale({ productId, quantity: 5, ratePerSecond: 7, burst: 2 });
    await order({ productId, userId: "watched" });
    type OnCall = {
      ratePerSecond: number;
      upstash: { scope: string; calls: number; failures: number; latencyMs: { p50: number | null; p99: number | null } };
      pipeline: { outboxBacklog?: number; consumerLag?: number | null; error?: string };
    };
    const stats = await (await call(`/admin/sales/${productId}`, { headers: ADMIN })).json<OnCall>();
    expect(stats.ratePerSecond).toBe(7);
    expect(stats.upstash).toMatchObject({ scope: "this edge isolate", failures: 0 });
    expect(stats.upstash.calls).toBeGreaterThan(0);
    expect(stats.upstash.latencyMs.p50).toBeGreaterThanOrEqual(0);
    // These tests sign with a secret of their own, which the stack's origin refuses: the page says why.
    expect(stats.pipeline).toEqual({ error: "origin answered 401" });
  });

  it("are behind the admin token; the page itself holds no data", async () => {
    expect((await call(`/admin/sales/${uniqueProduct()}`)).status).toBe(401);
    const page = await call("/admin");
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("/admin/sales/");
  });
});
