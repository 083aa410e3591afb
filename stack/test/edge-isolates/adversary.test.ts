import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type {} from "../global-setup";
import { solveChallenge } from "../../../load/pow.js";
import { FRESH_VIEW_MS, SOLD_OUT_MEMORY_MS } from "../../../edge/src/time-windows";
import {
  bearer,
  initSale,
  order,
  send,
  signIn,
  sleep,
  startEdge,
  ticketNumber,
  total,
  uniqueProduct,
  type EdgeUnderTest,
  type OrderReply,
  type Reply,
} from "./harness";

/**
 * The guarantees tried as a scalper would, black-box on 4 isolates behind a round-robin: a
 * signed-in account with many Idempotency-Keys, tickets shown again after use, keys borrowed from
 * another buyer, a flood of new keys after the limit.
 */
let edge: EdgeUnderTest;
beforeAll(async () => {
  edge = await startEdge(inject("stack"), 4);
});
afterAll(() => edge?.stop());

const adminView = (productId: string) =>
  send<{ remaining: number; sold: number; claimed: number; waiting: number }>(edge, `/admin/sales/${productId}`, {
    headers: { authorization: `Bearer ${edge.adminToken}` },
  });

/** A solution to the challenge this buyer is asked (the 401's), for the x-challenge-solution header. */
async function solution(productId: string, userId: string): Promise<string> {
  const asked = await order(edge, { productId, userId });
  expect(asked.status).toBe(401);
  const { challenge, difficulty } = asked.body as unknown as { challenge: string; difficulty: number };
  return solveChallenge(challenge, difficulty, (t: string) => createHash("sha256").update(t).digest("hex"));
}

/** Retries while an isolate still says "wait", as a browser would, until a final answer. */
async function untilBought(send: () => Promise<Reply<OrderReply>>, deadlineMs: number): Promise<Reply<OrderReply>> {
  for (;;) {
    const r = await send();
    if (r.status !== 302 || Date.now() > deadlineMs) return r;
    await sleep(100);
  }
}

describe("a scalper on 4 isolates", () => {
  it("holds one place with 50 keys (the same ticket number for every key), and an honest buyer behind buys in time", async () => {
    const productId = uniqueProduct("scalper");
    const scalper = "scalper";
    await signIn(edge, ["early", scalper, "honest"]);
    await initSale(edge, { productId, quantity: 6, ratePerSecond: 1, burst: 1, perUserLimit: 1, ticketTtlSeconds: 60 });
    // The burst's one token goes to someone else: from here on everyone waits in line.
    expect((await order(edge, { productId, userId: "early" })).status).toBe(200);

    const keys = Array.from({ length: 50 }, (_, i) => `scalper-key-${i}`);
    const replies: Reply<OrderReply>[] = [];
    for (const key of keys) replies.push(await order(edge, { productId, userId: scalper }, { key }));
    expect(new Set(replies.map((r) => r.isolate)).size).toBe(4);
    // A place (302), the limit (409), or, on a loaded machine, "try again" (503): never an order.
    expect(replies.filter((r) => ![302, 409, 503].includes(r.status)).map((r) => [r.status, r.body])).toEqual([]);
    const places = new Set(replies.flatMap((r) => (r.body.ticket ? [ticketNumber(r.body.ticket)] : [])).filter((n) => n > 0));
    expect(places.size).toBeLessThanOrEqual(1);

    const behind = await order(edge, { productId, userId: "honest" });
    expect(behind.status).toBe(302);
    const place = ticketNumber(behind.body.ticket!);
    const issuedAt = Date.now();
    // Once admitted the scalper's place claims 1 unit, never more, however many keys showed it.
    await sleep(1_200);
    expect((await adminView(productId)).body.claimed).toBeLessThanOrEqual(1);

    const bought = await untilBought(() => order(edge, { productId, userId: "honest" }, { ticket: behind.body.ticket! }), issuedAt + 10_000);
    expect(bought.status).toBe(200);
    expect(Date.now() - issuedAt).toBeLessThanOrEqual((place / 1) * 1000 + 2000);
  });

  it("gets its existing place back from a fresh key on another isolate, and a place that expired only at the back", async () => {
    const productId = uniqueProduct("scalper-expiry");
    await signIn(edge, ["e0", "s", "h1", "h2"]);
    await initSale(edge, { productId, quantity: 10, ratePerSecond: 0.5, burst: 1, perUserLimit: 1, ticketTtlSeconds: 1 });
    expect((await order(edge, { productId, userId: "e0" })).status).toBe(200);
    const first = await order(edge, { productId, userId: "s" });
    const again = await order(edge, { productId, userId: "s" });
    expect(first.isolate).not.toBe(again.isolate);
    expect(ticketNumber(again.body.ticket!)).toBe(ticketNumber(first.body.ticket!));
    const h1 = await order(edge, { productId, userId: "h1" });
    const h2 = await order(edge, { productId, userId: "h2" });
    // The scalper's place is admitted at ~2 s and expires unused at ~3 s; h2 (due at ~6 s) is still
    // waiting then, its page polling the line (which moves it, as every waiting page does).
    const until = Date.now() + 3_800;
    while (Date.now() < until) {
      await send(edge, `/waiting-room/status?productId=${productId}`, { headers: { ...(await bearer(edge, "h2")), "x-queue-ticket": h2.body.ticket! } });
      await sleep(250);
    }
    const back = await order(edge, { productId, userId: "s" });
    expect(back.status).toBe(302);
    expect(back.body.expired).toBe(true);
    expect(ticketNumber(back.body.ticket!)).toBeGreaterThan(Math.max(ticketNumber(h1.body.ticket!), ticketNumber(h2.body.ticket!)));
  });

  it("is asked for proof of work again with a spent ticket, and never before hearing 'sold out'", async () => {
    const productId = uniqueProduct("spent-ticket");
    await signIn(edge, ["front", "spender"]);
    await initSale(edge, { productId, quantity: 3, ratePerSecond: 5, burst: 1, perUserLimit: 2, powDifficulty: 8 });
    const solvedFront = await solution(productId, "front");
    expect((await order(edge, { productId, userId: "front" }, { headers: { "x-challenge-solution": solvedFront } })).status).toBe(200);
    const queued = await order(edge, { productId, userId: "spender" }, { headers: { "x-challenge-solution": await solution(productId, "spender") } });
    expect(queued.status).toBe(302);
    const spent = await untilBought(() => order(edge, { productId, userId: "spender" }, { ticket: queued.body.ticket! }), Date.now() + 5_000);
    expect(spent.status).toBe(200);
    // Six fresh keys showing the spent ticket, no solution: none gets a place. An isolate whose view
    // is under FRESH_VIEW_MS old may still say "keep waiting" with the same spent ticket; then every one is asked for proof.
    const spentNumber = ticketNumber(queued.body.ticket!);
    const showSpent = () => Promise.all(Array.from({ length: 6 }, () => order(edge, { productId, userId: "spender" }, { ticket: queued.body.ticket! })));
    for (const r of await showSpent()) expect(r.status === 401 || (r.status === 302 && ticketNumber(r.body.ticket!) === spentNumber)).toBe(true);
    await sleep(FRESH_VIEW_MS);
    expect((await showSpent()).map((r) => r.status)).toEqual([401, 401, 401, 401, 401, 401]);

    // The last unit goes; then a newcomer on every isolate hears "sold out" with no challenge first.
    const last = await order(edge, { productId, userId: "front" }, { headers: { "x-challenge-solution": await solution(productId, "front") } });
    expect(
      await untilBought(
        async () => (last.status === 302 ? order(edge, { productId, userId: "front" }, { ticket: last.body.ticket! }) : last),
        Date.now() + 5_000,
      ),
    ).toMatchObject({
      status: 200,
    });
    const newcomers = Array.from({ length: 8 }, (_, i) => `late-${i}`);
    await signIn(edge, newcomers);
    // An isolate asks for work from memory only while a view under FRESH_VIEW_MS old says units are left.
    await sleep(FRESH_VIEW_MS);
    const late: Reply<OrderReply>[] = [];
    for (const userId of newcomers) late.push(await order(edge, { productId, userId }));
    expect(new Set(late.map((r) => r.isolate)).size).toBe(4);
    expect(late.map((r) => r.body.status)).toEqual(newcomers.map(() => "sold_out"));
  });
});

describe("idempotency records belong to a buyer", () => {
  it("keeps the same key from two buyers as two orders, each replayed to its own buyer on any isolate", async () => {
    const productId = uniqueProduct("shared-key");
    await signIn(edge, ["alice", "bob"]);
    await initSale(edge, { productId, quantity: 10, ratePerSecond: 1000, burst: 1000, perUserLimit: 2 });
    const key = "the-same-key";
    const alice = await order(edge, { productId, userId: "alice" }, { key });
    const bob = await order(edge, { productId, userId: "bob", quantity: 2 }, { key });
    expect([alice.status, bob.status]).toEqual([200, 200]);
    expect(bob.body.orderId).not.toBe(alice.body.orderId);
    for (let i = 0; i < edge.isolates; i++) {
      const a = await order(edge, { productId, userId: "alice" }, { key });
      const b = await order(edge, { productId, userId: "bob", quantity: 2 }, { key });
      expect([a.body.orderId, b.body.orderId]).toEqual([alice.body.orderId, bob.body.orderId]);
    }
    expect((await adminView(productId)).body).toMatchObject({ sold: 3 });
  });
});

describe("a buyer past the limit", () => {
  it("costs at most one gate call per isolate a second for any number of new keys, and still gets its order back for its own key", async () => {
    const productId = uniqueProduct("past-limit");
    await signIn(edge, ["greedy"]);
    await initSale(edge, { productId, quantity: 100, ratePerSecond: 1000, burst: 1000, perUserLimit: 1 });
    const paid = await order(edge, { productId, userId: "greedy" }, { key: "greedy-paid" });
    expect(paid.status).toBe(200);
    const before = total(edge.commands);
    const started = Date.now();
    const refused: Reply<OrderReply>[] = [];
    for (let i = 0; i < 200; i++) refused.push(await order(edge, { productId, userId: "greedy" }, { key: `greedy-${i}` }));
    expect(refused.every((r) => r.status === 409 && r.body.status === "limit_reached")).toBe(true);
    // One call per isolate to learn it, then one re-check per isolate per SOLD_OUT_MEMORY_MS window.
    const windows = Math.ceil((Date.now() - started) / SOLD_OUT_MEMORY_MS);
    expect(total(edge.commands) - before).toBeLessThanOrEqual(edge.isolates * windows);
    for (let i = 0; i < edge.isolates; i++) {
      const retry = await order(edge, { productId, userId: "greedy" }, { key: "greedy-paid" });
      expect(retry).toMatchObject({ status: 200, body: { orderId: paid.body.orderId } });
    }
    expect((await adminView(productId)).body).toMatchObject({ sold: 1 });
  });
});
