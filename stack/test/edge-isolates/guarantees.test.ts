import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type {} from "../global-setup";
import { MAX_NEWCOMER_CALLS } from "../../../edge/src/purchase/gate-calls";
import { SOLD_OUT_MEMORY_MS } from "../../../edge/src/time-windows";
import {
  bearer,
  initSale,
  onEveryIsolate,
  signIn,
  order,
  send,
  sleep,
  startEdge,
  ticketNumber,
  total,
  uniqueProduct,
  type EdgeUnderTest,
  type OrderReply,
  type Reply,
} from "./harness";

let edge: EdgeUnderTest;
beforeAll(async () => {
  edge = await startEdge(inject("stack"), 4);
});
afterAll(() => edge?.stop());

/** Sends again while told to wait (an isolate whose view is up to a second old may say "wait" before "sold out"). */
async function untilFinal(send: () => Promise<Reply<OrderReply>>): Promise<Reply<OrderReply>> {
  for (let i = 0; ; i++) {
    const r = await send();
    if (r.status !== 302 || i === 10) return r;
    await sleep(250);
  }
}

const seen = (replies: { isolate: number }[]) => new Set(replies.map((r) => r.isolate)).size;
const saleOf = (productId: string) =>
  send<{ remaining: number; sold: number; claimed: number }>(edge, `/admin/sales/${productId}`, { headers: { authorization: `Bearer ${edge.adminToken}` } });

describe("the edge's guarantees across 4 isolates (round-robin, no stickiness)", () => {
  it("sells exactly the stock to 2,000 concurrent buyers spread over every isolate", async () => {
    const productId = uniqueProduct("race");
    await initSale(edge, { productId, quantity: 100, ratePerSecond: 1_000_000 });
    await signIn(
      edge,
      Array.from({ length: 2000 }, (_, i) => `u${i}`),
    );
    const replies = await Promise.all(Array.from({ length: 2000 }, (_, i) => order(edge, { productId, userId: `u${i}` })));
    expect(seen(replies)).toBe(4);
    const accepted = replies.filter((r) => r.status === 200);
    expect(accepted.length).toBe(100);
    expect(new Set(accepted.map((r) => r.body.orderId)).size).toBe(100);
    expect(replies.filter((r) => r.status === 409 && r.body.status === "sold_out").length).toBe(1900);
    expect((await saleOf(productId)).body).toMatchObject({ remaining: 0, sold: 100 });
  });

  it("gives a crowd meeting every isolate at once about one numbered place per unit, in arrival order, and standby from memory to the rest", async () => {
    const productId = uniqueProduct("crowd-places");
    const stock = 100;
    const buyers = Array.from({ length: 1500 }, (_, i) => `c${i}`);
    await signIn(edge, buyers);
    await initSale(edge, { productId, quantity: stock, ratePerSecond: 20, burst: 10 });
    const before = total(edge.commands);
    const replies = await Promise.all(buyers.map((userId) => order(edge, { productId, userId })));
    const used = total(edge.commands) - before;
    const placed = replies.flatMap((r, i) => (r.status === 200 || (r.status === 302 && !r.body.standby) ? [i] : []));
    const standby = replies.flatMap((r, i) => (r.status === 302 && r.body.standby ? [i] : []));
    expect(placed.length + standby.length).toBe(buyers.length);
    // Past the stock, each isolate gives a place only to the calls it has in flight when the line
    // fills (at most MAX_NEWCOMER_CALLS), and to the one that brings back the queued-keys filter.
    expect(placed.length).toBeGreaterThanOrEqual(stock);
    expect(placed.length).toBeLessThanOrEqual(stock + edge.isolates * (MAX_NEWCOMER_CALLS + 1));
    expect(used).toBeLessThanOrEqual(placed.length + 2 * edge.isolates * MAX_NEWCOMER_CALLS);
    // The places went to the front of the crowd: isolates take their queues in order.
    const median = (xs: number[]) => xs[Math.floor(xs.length / 2)]!;
    expect(median(placed)).toBeLessThan(stock);
  });

  it("turns 40 simultaneous copies of one request into one order, and answers the same 200 on every isolate later", async () => {
    const productId = uniqueProduct("double");
    await initSale(edge, { productId, quantity: 10 });
    const key = crypto.randomUUID();
    const copies = await Promise.all(Array.from({ length: 40 }, () => order(edge, { productId, userId: "clicker" }, { key })));
    expect(seen(copies)).toBe(4);
    expect(new Set(copies.map((r) => `${r.status} ${JSON.stringify(r.body)}`)).size).toBe(1);
    expect(copies[0]!.status).toBe(200);
    const later = await onEveryIsolate(edge, () => order(edge, { productId, userId: "clicker" }, { key }), 2);
    expect(later.map((r) => r.body)).toEqual(later.map(() => copies[0]!.body));
    expect((await saleOf(productId)).body).toMatchObject({ sold: 1 });
  });

  it("holds the per-user limit when one user fires 20 orders at once over every isolate", async () => {
    const productId = uniqueProduct("limit");
    await initSale(edge, { productId, quantity: 100, perUserLimit: 2 });
    const replies = await Promise.all(Array.from({ length: 20 }, () => order(edge, { productId, userId: "greedy" })));
    expect(replies.filter((r) => r.status === 200).length).toBe(2);
    expect(replies.filter((r) => r.status === 409 && r.body.status === "limit_reached").length).toBe(18);
  });

  it("answers a paid buyer's retry with its 200 on isolates that learned 'sold out' from others, and the crowd from memory", async () => {
    const productId = uniqueProduct("paid");
    await initSale(edge, { productId, quantity: 3, ratePerSecond: 1_000 });
    const buyers = [0, 1, 2].map((i) => ({ userId: `buyer${i}`, key: crypto.randomUUID() }));
    const firsts: Reply<OrderReply>[] = [];
    for (const b of buyers) firsts.push(await order(edge, { productId, userId: b.userId }, { key: b.key }));
    expect(firsts.map((r) => r.status)).toEqual([200, 200, 200]);

    // Every isolate learns "sold out" from a newcomer of its own.
    const learn = await onEveryIsolate(edge, () => order(edge, { productId, userId: `late-${crypto.randomUUID()}` }));
    expect(learn.map((r) => r.status)).toEqual([409, 409, 409, 409]);

    // The crowd keeps coming, with retries: answered from memory, at most one re-check per isolate per window.
    const before = total(edge.commands);
    const started = Date.now();
    const crowdKeys = Array.from({ length: 300 }, () => crypto.randomUUID());
    for (let round = 0; round < 3; round++) {
      const replies = await Promise.all(crowdKeys.map((key, i) => order(edge, { productId, userId: `crowd${i}` }, { key })));
      expect(replies.every((r) => r.status === 409 && r.body.status === "sold_out")).toBe(true);
    }
    const windows = 1 + Math.floor((Date.now() - started) / SOLD_OUT_MEMORY_MS);
    expect(total(edge.commands) - before).toBeLessThanOrEqual(edge.isolates * windows);

    // Each paid buyer retries on every isolate: the same 200, the same order.
    for (const [i, b] of buyers.entries()) {
      const retries = await onEveryIsolate(edge, () => order(edge, { productId, userId: b.userId }, { key: b.key }));
      expect(retries.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      expect(retries.map((r) => r.body)).toEqual(retries.map(() => firsts[i]!.body));
    }
  });

  it("gives a queued key its place back on any isolate, even where the line covers the stock", async () => {
    const productId = uniqueProduct("queued-key");
    await initSale(edge, { productId, quantity: 2, ratePerSecond: 0.01, burst: 1 });
    expect((await order(edge, { productId, userId: "opener" })).status).toBe(200);
    const key = crypto.randomUUID();
    const first = await order(edge, { productId, userId: "queued" }, { key });
    expect(first.status).toBe(302);
    const place = ticketNumber(first.body.ticket!);
    // Newcomers on every isolate: each isolate learns that the line covers the stock (standby from memory).
    const newcomers = await onEveryIsolate(edge, () => order(edge, { productId, userId: `n-${crypto.randomUUID()}` }), 3);
    expect(newcomers.slice(-4).every((r) => r.status === 302 && r.body.standby === true)).toBe(true);
    // The queued key retried without its ticket: its own place, from every isolate.
    const retries = await onEveryIsolate(edge, () => order(edge, { productId, userId: "queued" }, { key }));
    expect(retries.map((r) => (r.body.standby ? "standby" : ticketNumber(r.body.ticket!)))).toEqual([place, place, place, place]);
  });

  it("admits in ticket order across isolates; no fresh arrival jumps the line", async () => {
    const productId = uniqueProduct("fifo");
    // Signed in up front, so the time between two arrivals is the edge's alone; 5 admissions a
    // second leave this loaded machine room to queue the eight before the line has moved past them.
    await signIn(edge, ["opener", "newcomer", ...Array.from({ length: 8 }, (_, i) => `w${i}`)]);
    await initSale(edge, { productId, quantity: 100, ratePerSecond: 5, burst: 1 });
    expect((await order(edge, { productId, userId: "opener" })).status).toBe(200);
    const waiting: { userId: string; key: string; ticket: string }[] = [];
    for (let i = 0; i < 8; i++) {
      const userId = `w${i}`;
      const key = crypto.randomUUID();
      const r = await order(edge, { productId, userId }, { key });
      expect(r.status).toBe(302);
      waiting.push({ userId, key, ticket: r.body.ticket! });
    }
    const numbers = waiting.map((w) => ticketNumber(w.ticket));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    const bought = new Set<string>();
    let newcomer: number | undefined;
    for (let round = 0; round < 60 && bought.size < waiting.length; round++) {
      for (const w of [...waiting].reverse()) {
        if (bought.has(w.userId)) continue;
        const r = await order(edge, { productId, userId: w.userId }, { key: w.key, ticket: w.ticket });
        if (r.status === 200) bought.add(w.userId);
        else expect(r.status).toBe(302);
      }
      expect(waiting.map((w) => bought.has(w.userId))).toEqual(waiting.map((_, i) => i < bought.size));
      if (round === 1) {
        const r = await order(edge, { productId, userId: "newcomer" });
        expect(r.status).toBe(302);
        newcomer = ticketNumber(r.body.ticket!);
      }
      await sleep(60);
    }
    expect(bought.size).toBe(waiting.length);
    expect(newcomer).toBeGreaterThan(Math.max(...numbers));
  });

  it("keeps the units of admitted people for them: a newcomer after the line passed them waits", async () => {
    const productId = uniqueProduct("claims");
    await initSale(edge, { productId, quantity: 3, ratePerSecond: 1, burst: 1 });
    expect((await order(edge, { productId, userId: "first" })).status).toBe(200);
    const line: { userId: string; key: string; ticket: string }[] = [];
    for (let i = 0; i < 4; i++) {
      const key = crypto.randomUUID();
      const r = await order(edge, { productId, userId: `q${i}` }, { key });
      expect(r.status).toBe(302);
      expect(r.body.standby).toBeUndefined();
      line.push({ userId: `q${i}`, key, ticket: r.body.ticket! });
    }
    // Nobody comes back for 6.5 s: the line has passed all four. Then a newcomer arrives.
    await sleep(6_500);
    const newcomer = await order(edge, { productId, userId: "newcomer" });
    expect(newcomer.status).toBe(302);
    expect((await saleOf(productId)).body).toMatchObject({ remaining: 2, claimed: 2 });
    const outcomes = [];
    for (const q of line) outcomes.push((await untilFinal(() => order(edge, { productId, userId: q.userId }, { key: q.key, ticket: q.ticket }))).status);
    // The first two in line get the two units left; the others are told sold out.
    expect(outcomes).toEqual([200, 200, 409, 409]);
  });

  it("returns an abandoned claim to the line as soon as its ticket expires", async () => {
    const productId = uniqueProduct("reclaim");
    await initSale(edge, { productId, quantity: 2, ratePerSecond: 2, burst: 1, ticketTtlSeconds: 1 });
    expect((await order(edge, { productId, userId: "first" })).status).toBe(200);
    expect((await order(edge, { productId, userId: "gone" })).status).toBe(302);
    await sleep(700);
    // The watermark passes "gone", who now holds the last unit: the next one waits behind the claim.
    const next = await order(edge, { productId, userId: "next" }, { key: "next-key" });
    expect(next.status).toBe(302);
    expect((await saleOf(productId)).body).toMatchObject({ remaining: 1, claimed: 1 });
    // "gone" never comes back: a second later the unit goes to "next".
    await sleep(1_400);
    const again = await order(edge, { productId, userId: "next" }, { key: "next-key", ticket: next.body.ticket! });
    expect(again.status).toBe(200);
  });

  it("moves the line for waiting pages alone: a claim nobody uses expires while only status polls arrive", async () => {
    const productId = uniqueProduct("polls");
    await initSale(edge, { productId, quantity: 2, ratePerSecond: 2, burst: 1, ticketTtlSeconds: 1 });
    expect((await order(edge, { productId, userId: "first" })).status).toBe(200);
    const gone = await order(edge, { productId, userId: "gone" });
    const waiter = await order(edge, { productId, userId: "waiter" });
    expect([gone.status, waiter.status]).toEqual([302, 302]);
    const poll = async () =>
      send<{ state: string }>(edge, `/waiting-room/status?productId=${productId}&userId=waiter`, {
        headers: { "x-queue-ticket": waiter.body.ticket!, ...(await bearer(edge, "waiter")) },
      });
    // No order arrives: only the waiting page polls. "gone" is admitted, holds the last unit for a
    // second, then its claim expires and the line reaches "waiter".
    const states: string[] = [];
    for (let i = 0; i < 16 && states.at(-1) !== "your_turn"; i++) {
      states.push((await poll()).body.state);
      await sleep(250);
    }
    expect(states.at(-1)).toBe("your_turn");
    expect(states).toContain("waiting");
    expect((await order(edge, { productId, userId: "waiter" }, { ticket: waiter.body.ticket! })).status).toBe(200);
  });

  it("never replays an answer of an earlier sale after /init restarts it", async () => {
    const productId = uniqueProduct("restart");
    await initSale(edge, { productId, quantity: 5 });
    const key = crypto.randomUUID();
    const old = await onEveryIsolate(edge, () => order(edge, { productId, userId: "again" }, { key }));
    const oldOrder = old[0]!.body.orderId;
    expect(old.every((r) => r.status === 200 && r.body.orderId === oldOrder)).toBe(true);
    await initSale(edge, { productId, quantity: 5 });
    // Isolates may answer from what they learned for one re-check window; after it, every one runs the key in the new sale.
    await sleep(SOLD_OUT_MEMORY_MS + 200);
    const fresh = await onEveryIsolate(edge, () => order(edge, { productId, userId: "again" }, { key }));
    expect(fresh.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(fresh.every((r) => r.body.orderId === fresh[0]!.body.orderId && r.body.orderId !== oldOrder)).toBe(true);
    expect((await saleOf(productId)).body).toMatchObject({ sold: 1 });
  });

  it("supports rates under one a second end to end", async () => {
    const productId = uniqueProduct("slow");
    await initSale(edge, { productId, quantity: 10, ratePerSecond: 0.5, burst: 1 });
    expect((await order(edge, { productId, userId: "first" })).status).toBe(200);
    const queued = await order(edge, { productId, userId: "slow" });
    expect(queued.status).toBe(302);
    expect(queued.body.etaSeconds).toBe(2);
    const status = await send<{ state: string; etaSeconds: number | null }>(edge, `/waiting-room/status?productId=${productId}&userId=slow`, {
      headers: { "x-queue-ticket": queued.body.ticket!, ...(await bearer(edge, "slow")) },
    });
    expect(status.body.state).toBe("waiting");
    expect(typeof status.body.etaSeconds).toBe("number");
    await sleep(2_200);
    expect((await order(edge, { productId, userId: "slow" }, { ticket: queued.body.ticket! })).status).toBe(200);
  });

  it("refuses more than the per-user limit before admission, and a place buys the units it was issued for", async () => {
    const productId = uniqueProduct("over-limit");
    await initSale(edge, { productId, quantity: 10, ratePerSecond: 2, burst: 1, perUserLimit: 1 });
    expect((await order(edge, { productId, userId: "first" })).status).toBe(200);
    const tooMany = await order(edge, { productId, userId: "eager", quantity: 2 });
    expect(tooMany.status).toBe(409);
    expect(tooMany.body).toMatchObject({ status: "limit_reached", limit: 1 });
    const key = crypto.randomUUID();
    const queued = await order(edge, { productId, userId: "eager" }, { key });
    expect(queued.status).toBe(302);
    expect(ticketNumber(queued.body.ticket!)).toBe(1);
    await sleep(700);
    // The place buys the one unit it was given for; asking it for two is refused before the gate, whatever isolate answers.
    const forTwo = await order(edge, { productId, userId: "eager", quantity: 2 }, { ticket: queued.body.ticket! });
    expect(forTwo.status).toBe(422);
    expect(forTwo.body).toMatchObject({ status: "invalid_request", quantity: 1 });
    const bought = await order(edge, { productId, userId: "eager" }, { key, ticket: queued.body.ticket! });
    expect(bought).toMatchObject({ status: 200, body: { quantity: 1 } });
  });

  it("ignores a ticket cookie issued to another user (shared browser); a ticket header of another user stays 403", async () => {
    const productId = uniqueProduct("cookie");
    await initSale(edge, { productId, quantity: 10, ratePerSecond: 0.01, burst: 1 });
    expect((await order(edge, { productId, userId: "first" })).status).toBe(200);
    const alice = await order(edge, { productId, userId: "alice" });
    expect(alice.status).toBe(302);
    const cookie = alice.headers
      .getSetCookie()
      .find((c) => c.startsWith(`fg_ticket_${productId}=`))!
      .split(";")[0]!;
    const bob = await order(edge, { productId, userId: "bob" }, { cookie });
    expect(bob.status).toBe(302);
    expect(ticketNumber(bob.body.ticket!)).not.toBe(ticketNumber(alice.body.ticket!));
    expect((await order(edge, { productId, userId: "bob" }, { ticket: alice.body.ticket! })).status).toBe(403);
  });
});
