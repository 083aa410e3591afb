import { env } from "cloudflare:workers";
import { BILL_KEY, billTotalField, saleKeys } from "@fluxgate/common";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { originAtStartField } from "../src/gate/init-sale.lua";
import { STATS_WINDOW_SECONDS } from "../src/time-windows";
import { ADMIN, call, initSale, order, uniqueProduct } from "./helpers";

const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false });
const W = STATS_WINDOW_SECONDS;
const FIELDS = ["accepted", "throttled", "sold_out", "limit_reached", "prequeued", "calls", "remaining", "waiting", "claimed"];

describe("the operator's stats of a long sale", { timeout: 30_000 }, () => {
  it("keep its last minutes only, while the bill still counts every gate call since the start", async () => {
    const productId = uniqueProduct("stats-window");
    await initSale({ productId, quantity: 1_000, ratePerSecond: 1_000, burst: 1_000 });
    const key = saleKeys(productId).stats;
    // The sale has run for an hour: every slot of the ring holds a second of ~50 minutes ago, fully written.
    const base = (Math.floor(Date.now() / 1000 / W) - 10) * W;
    const seeded: Record<string, string> = {};
    for (let i = 0; i < W; i++) {
      seeded[`slot:${i}`] = String(base + i);
      for (const field of FIELDS) seeded[`${base + i}:${field}`] = "1";
    }
    await redis.hset(key, seeded);
    const full = await redis.hlen(key);

    // Buyers over three seconds.
    let calls = 0;
    const started = Date.now();
    while (Date.now() - started < 3_000) {
      expect((await order({ productId, userId: `u${calls}` })).status).toBe(200);
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }

    // The hash did not grow: each new second replaced the one an hour old in its slot.
    const after = await redis.hlen(key);
    expect(after).toBeLessThanOrEqual(full + 1); // + the running total
    const fields = Object.keys((await redis.hgetall(key)) ?? {});
    const seconds = [...new Set(fields.filter((f) => f.endsWith(":calls") && !f.startsWith("total")).map((f) => Number(f.split(":")[0])))];
    const fresh = seconds.filter((s) => s >= base + W);
    expect(fresh.length).toBeGreaterThanOrEqual(3);
    for (const s of fresh) {
      expect(fields).not.toContain(`${base + (s % W)}:calls`);
      expect(await redis.hget(key, `slot:${s % W}`)).toBe(s);
    }

    const res = await call(`/admin/sales/${productId}`, { headers: ADMIN });
    const stats = await res.json<{ bill: { commands: { edge: number } }; series: { t: number; accepted: number }[] }>();
    // Every gate call of this sale, from the running total (the seeded hour's seconds are not summed).
    expect(stats.bill.commands.edge).toBe(calls);
    expect(stats.series.reduce((n, s) => n + s.accepted, 0)).toBe(calls);
    expect(stats.series.length).toBeLessThanOrEqual(W);
    expect(stats.series[0]!.t).toBeGreaterThan(Math.floor(Date.now() / 1000) - W);
  });

  it("count the origin's share of the bill from its running totals at the start, not from the minutes the bill still keeps", async () => {
    const productId = uniqueProduct("bill-share");
    await initSale({ productId, quantity: 5 });
    const key = saleKeys(productId).stats;
    // The init script noted the origin's totals as they were then (none yet reads as 0).
    const forwardNow = Number((await redis.hget<string | number>(BILL_KEY, billTotalField("forward"))) ?? 0);
    const noted = Number(await redis.hget<string | number>(key, originAtStartField("forward")));
    expect(noted).toBeLessThanOrEqual(forwardNow);
    // As if the sale had run for hours while the origin booked 5,000 forward commands: more than the bill's minutes hold.
    await redis.hset(key, { [originAtStartField("forward")]: forwardNow - 5_000 });
    const res = await call(`/admin/sales/${productId}`, { headers: ADMIN });
    const { bill } = await res.json<{ bill: { commands: { edge: number; forward: number; relay: number; total: number } } }>();
    expect(bill.commands.forward).toBeGreaterThanOrEqual(5_000);
    // The stack's origin keeps booking meanwhile: a few commands a second at most.
    expect(bill.commands.forward).toBeLessThan(5_100);
    expect(bill.commands.total).toBe(bill.commands.edge + bill.commands.forward + bill.commands.relay);
  });
});
