/**
 * After "accepted", for a sale with holds: the shop confirms the payment before the hold expires,
 * or the units go back to the sale (to the line first); a buyer gives a hold back, the operator
 * cancels any order. Every end is decided against the expiry by Redis' clock, once.
 */
import { env } from "cloudflare:workers";
import { type OrderStatus, SaleEvent, saleKeys } from "@fluxgate/common";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { ADMIN, call, initSale, order, sale, signedIn, uniqueProduct } from "./helpers";

const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false, automaticDeserialization: false });
const SHOP = { authorization: `Bearer ${env.SHOP_API_TOKEN}` };

const pay = (productId: string, orderId: string, headers: Record<string, string> = SHOP) =>
  call(`/sales/${productId}/orders/${orderId}/pay`, { method: "POST", headers });
const cancel = (productId: string, orderId: string, headers: Record<string, string>) =>
  call(`/sales/${productId}/orders/${orderId}/cancel`, { method: "POST", headers });

interface Accepted {
  orderId: string;
  quantity: number;
  holdExpiresAt?: string;
}
async function buy(productId: string, userId: string, key?: string): Promise<Accepted> {
  const res = await order({ productId, userId }, key ? { key } : {});
  expect(res.status).toBe(200);
  return res.json<Accepted>();
}
const held = async (productId: string) => Number(await redis.hget(saleKeys(productId).sale, "held"));

/** The OrderStatus events in the sale's outbox, as the relay would ship them. */
async function statuses(productId: string): Promise<OrderStatus[]> {
  const entries = (await redis.xrange(saleKeys(productId).outbox, "-", "+")) as unknown as [string, string[]][];
  return entries.flatMap(([, fields]) => {
    const event = SaleEvent.parse(JSON.parse(fields[1]!));
    return event.type === "order_status" ? [event] : [];
  });
}

describe("holds: after accepted", () => {
  it("holds the units until the shop confirms the payment; a confirmation is idempotent and needs the shop's token", async () => {
    const productId = uniqueProduct("hold-pay");
    expect(await initSale({ productId, quantity: 5, holdSeconds: 30 })).toMatchObject({ holdSeconds: 30 });
    const accepted = await buy(productId, "payer");
    expect(Date.parse(accepted.holdExpiresAt!) - Date.now()).toBeGreaterThan(25_000);
    expect(await held(productId)).toBe(1);

    expect((await pay(productId, accepted.orderId, {})).status).toBe(401);
    expect((await pay(productId, accepted.orderId, ADMIN)).status).toBe(401);
    const paid = await pay(productId, accepted.orderId);
    expect(paid.status).toBe(200);
    expect(await paid.json()).toMatchObject({ status: "paid", orderId: accepted.orderId, quantity: 1 });
    const again = await pay(productId, accepted.orderId);
    expect(again.status).toBe(200);
    expect(await held(productId)).toBe(0);
    expect((await statuses(productId)).map((s) => [s.status, s.by, s.order.orderId])).toEqual([["paid", "shop", accepted.orderId]]);
    expect((await pay(productId, "no-such-order")).status).toBe(404);
    expect(await sale(productId)).toMatchObject({ remaining: 4 });
  });

  it("gives an unpaid hold's units back at its expiry: the confirmation gets 409 expired, the key's retry says so, the buyer may buy again", async () => {
    const productId = uniqueProduct("hold-expire");
    await initSale({ productId, quantity: 1, holdSeconds: 1 });
    const key = crypto.randomUUID();
    const accepted = await buy(productId, "slow", key);
    await scheduler.wait(1_100);
    const late = await pay(productId, accepted.orderId);
    expect(late.status).toBe(409);
    expect(await late.json()).toMatchObject({ status: "expired", orderId: accepted.orderId });
    expect(await sale(productId)).toMatchObject({ remaining: 1 });
    const retry = await order({ productId, userId: "slow" }, { key });
    expect(retry.status).toBe(409);
    expect(await retry.json()).toMatchObject({ status: "expired", orderId: accepted.orderId });
    // Their count went back: a new order of theirs is a new hold.
    const again = await buy(productId, "slow");
    expect(again.orderId).not.toBe(accepted.orderId);
    expect((await statuses(productId)).map((s) => [s.status, s.by])).toEqual([["expired", "expiry"]]);
  });

  it("says 'sold out for now' while units are held, keeps the place, and gives a released unit to the line before a newcomer", async () => {
    const productId = uniqueProduct("hold-line");
    await initSale({ productId, quantity: 1, holdSeconds: 1, ratePerSecond: 1000, burst: 1000 });
    await buy(productId, "first");
    const waiting = await order({ productId, userId: "waiting" });
    expect(waiting.status).toBe(302);
    const place = await waiting.json<{ ticket: string; soldOutForNow?: boolean }>();
    expect(place.soldOutForNow).toBe(true);
    await scheduler.wait(1_100);
    // The hold expired unpaid: a newcomer now queues behind the person already waiting…
    const newcomer = await order({ productId, userId: "newcomer" });
    expect(newcomer.status).toBe(302);
    // …who buys the unit that came back.
    const bought = await order({ productId, userId: "waiting" }, { ticket: place.ticket });
    expect(bought.status).toBe(200);
  });

  it("lets a buyer give their own hold back (not someone else's, not a paid one), and the operator cancel any order", async () => {
    const productId = uniqueProduct("hold-cancel");
    await initSale({ productId, quantity: 5, holdSeconds: 30, perUserLimit: 2 });
    const mine = await buy(productId, "owner");
    expect((await cancel(productId, mine.orderId, await signedIn("stranger"))).status).toBe(403);
    expect((await cancel(productId, mine.orderId, {})).status).toBe(401);
    const given = await cancel(productId, mine.orderId, await signedIn("owner"));
    expect(given.status).toBe(200);
    expect(await given.json()).toMatchObject({ status: "cancelled" });

    const paidOne = await buy(productId, "owner");
    expect((await pay(productId, paidOne.orderId)).status).toBe(200);
    const refused = await cancel(productId, paidOne.orderId, await signedIn("owner"));
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ status: "paid" });
    expect((await cancel(productId, paidOne.orderId, ADMIN)).status).toBe(200);
    expect(await sale(productId)).toMatchObject({ remaining: 5 });
    expect((await statuses(productId)).map((s) => [s.status, s.by])).toEqual([
      ["cancelled", "buyer"],
      ["paid", "shop"],
      ["cancelled", "operator"],
    ]);
  });

  it("ends each of 1,000 holds exactly one way when confirmations race their expiry", { timeout: 60_000 }, async () => {
    const productId = uniqueProduct("hold-race");
    const n = 1_000;
    await initSale({ productId, quantity: n, holdSeconds: 5, ratePerSecond: 1_000_000, burst: 1_000_000 });
    const buyers = Array.from({ length: n }, (_, i) => `racer-${i}`);
    const accepted: Accepted[] = [];
    for (let i = 0; i < n; i += 100) accepted.push(...(await Promise.all(buyers.slice(i, i + 100).map((u) => buy(productId, u)))));
    // Fire every confirmation at the median expiry: the holds accepted earlier expire first, those
    // near the middle race their confirmation.
    const expiries = accepted.map((a) => Date.parse(a.holdExpiresAt!)).sort((a, b) => a - b);
    await scheduler.wait(Math.max(0, expiries[n / 2]! - Date.now()));
    // As a shop's backend does: a 503 (the database did not answer in time) is retried; the retry
    // answers what the first call decided, if it ran.
    const confirm = async (orderId: string) => {
      for (;;) {
        const r = await pay(productId, orderId);
        if (r.status !== 503) return { orderId, status: r.status, body: await r.json<{ status: string }>() };
        await scheduler.wait(Number(r.headers.get("retry-after") ?? 1) * 1000);
      }
    };
    const answers = await Promise.all(accepted.map((a) => confirm(a.orderId)));
    const paid = answers.filter((a) => a.status === 200 && a.body.status === "paid").map((a) => a.orderId);
    const expired = answers.filter((a) => a.status === 409 && a.body.status === "expired").map((a) => a.orderId);
    expect(answers.filter((a) => !paid.includes(a.orderId) && !expired.includes(a.orderId))).toEqual([]);
    // The confirmations straddle the expiries: both ends happen.
    expect(paid.length).toBeGreaterThan(0);
    expect(expired.length).toBeGreaterThan(0);
    // Each order ended the one way its confirmation was told (the outbox is drained by the relay:
    // PostgreSQL's side of this is stack/test/holds-race.test.ts).
    const records = (await redis.hgetall(saleKeys(productId).holdOrders)) as unknown as string[];
    const endOf = new Map<string, string>();
    for (let i = 0; i < records.length; i += 2) endOf.set(records[i]!, records[i + 1]!.slice(0, records[i + 1]!.indexOf("|")));
    expect(endOf.size).toBe(n);
    expect(paid.every((id) => endOf.get(id) === "paid") && expired.every((id) => endOf.get(id) === "expired")).toBe(true);
    const counts = (await redis.hmget(saleKeys(productId).sale, "paid", "released")) as unknown as string[];
    expect(counts.map(Number)).toEqual([paid.length, expired.length]);
    // And the stock: every expired unit is back, every paid one sold.
    expect(await sale(productId)).toMatchObject({ remaining: expired.length });
    expect(await held(productId)).toBe(0);
  });
});
