import { saleKeys } from "@fluxgate/common";
import { Redis as IORedis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type {} from "../global-setup";
import { PAUSED_RECHECK_MS, SOLD_OUT_MEMORY_MS } from "../../../edge/src/time-windows";
import { initSale, order, send, signIn, sleep, startEdge, ticketNumber, uniqueProduct, type EdgeUnderTest, type Reply } from "./harness";

/**
 * An operator steering a live sale on 4 isolates behind a round-robin: a pause in the middle of a
 * crowd, the pace raised and lowered, stock added to a sold-out sale with people in line, and one
 * control sent to two isolates at once.
 */
let edge: EdgeUnderTest;
let redis: IORedis;
beforeAll(async () => {
  const stack = inject("stack");
  edge = await startEdge(stack, 4);
  redis = new IORedis(stack.redis.url);
});
afterAll(async () => {
  redis?.disconnect();
  await edge?.stop();
});

const admin = { authorization: () => `Bearer ${edge.adminToken}` };
function steer(productId: string, path: "pause" | "resume" | "", body?: unknown, key = crypto.randomUUID()) {
  return send<{ applied: boolean; version: number; remaining: number; added: number }>(edge, `/sales/${productId}${path ? `/${path}` : ""}`, {
    method: path ? "POST" : "PATCH",
    headers: { authorization: admin.authorization(), "content-type": "application/json", "idempotency-key": key },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}
const series = async (productId: string) =>
  (
    await send<{ series: { t: number; accepted: number; admitted: number }[] }>(edge, `/admin/sales/${productId}`, {
      headers: { authorization: admin.authorization() },
    })
  ).body.series;

interface Bought {
  userId: string;
  /** Every ticket number this buyer was handed (one, if its place was kept). */
  tickets: Set<number>;
  /** Redis' clock when the order was accepted (the 200's acceptedAt). */
  acceptedAt: number;
}

/** A buyer as an API client follows the line: orders, then shows its ticket every `pollMs` until bought (or the deadline). */
async function follow(productId: string, userId: string, deadline: number, pollMs = 100): Promise<Bought | undefined> {
  const tickets = new Set<number>();
  let ticket: string | undefined;
  while (Date.now() < deadline) {
    const r: Reply<{ status?: string; ticket?: string; acceptedAt?: string }> = await order(edge, { productId, userId }, ticket ? { ticket } : {});
    if (r.status === 200) return { userId, tickets, acceptedAt: Date.parse(r.body.acceptedAt!) };
    if (r.body.ticket) {
      ticket = r.body.ticket;
      const n = ticketNumber(ticket);
      if (n > 0) tickets.add(n);
    }
    if (![302, 409, 503].includes(r.status) || r.body.status === "limit_reached") return undefined;
    await sleep(pollMs);
  }
  return undefined;
}

/** Pairs served out of their places' order by more than `slackMs` (polling lets a buyer come a little late). */
function inversions(bought: Bought[], slackMs: number): string[] {
  // A buyer who bought at once, with no place, was first of all.
  const place = (b: Bought) => (b.tickets.size ? Math.min(...b.tickets) : 0);
  const found: string[] = [];
  for (const a of bought)
    for (const b of bought)
      if (place(a) < place(b) && a.acceptedAt > b.acceptedAt + slackMs) found.push(`#${place(a)} at ${a.acceptedAt} after #${place(b)} at ${b.acceptedAt}`);
  return found;
}

describe("an operator steering a sale on 4 isolates", () => {
  it("pauses during a crowd: nothing is accepted while paused, every place is kept, the order of service is the same after the resume", async () => {
    const productId = uniqueProduct("steer-pause");
    const buyers = Array.from({ length: 24 }, (_, i) => `p${i}`);
    await signIn(edge, buyers);
    await initSale(edge, { productId, quantity: 24, ratePerSecond: 4, burst: 1 });
    const deadline = Date.now() + 20_000;
    const crowd = Promise.all(buyers.map((userId) => follow(productId, userId, deadline)));
    await sleep(1_500);
    const paused = await steer(productId, "pause");
    expect(paused.status).toBe(200);
    const pausedAt = Date.now();
    await sleep(2_000);
    const soldWhilePaused = Number(await redis.hget(saleKeys(productId).sale, "remaining"));
    const resumed = await steer(productId, "resume");
    expect(resumed.status).toBe(200);
    const resumedAt = Date.now();
    expect(soldWhilePaused).toBeGreaterThan(0);

    const bought = (await crowd).filter((b): b is Bought => b !== undefined);
    expect(bought).toHaveLength(24);
    expect(bought.filter((b) => b.acceptedAt > pausedAt + 100 && b.acceptedAt < resumedAt - 100)).toEqual([]);
    // Kept: nobody was handed a second place, whatever isolate answered across the pause.
    expect(bought.filter((b) => b.tickets.size > 1)).toEqual([]);
    // An isolate learns a resume within PAUSED_RECHECK_MS; a buyer polls every 100 ms.
    expect(inversions(bought, PAUSED_RECHECK_MS + 300)).toEqual([]);
  });

  it("follows a rate raised and lowered mid-sale, with no second over the rate in force plus the burst", async () => {
    const productId = uniqueProduct("steer-rate");
    const buyers = Array.from({ length: 70 }, (_, i) => `r${i}`);
    await signIn(edge, buyers);
    const burst = 2;
    await initSale(edge, { productId, quantity: 200, ratePerSecond: 4, burst });
    const deadline = Date.now() + 9_000;
    const pollMs = 100;
    const crowd = Promise.all(buyers.map((userId) => follow(productId, userId, deadline, pollMs)));
    await sleep(3_000);
    // A control takes effect at Redis' clock somewhere between its sending and its answer: the
    // seconds of that span are its seconds.
    const change = async (ratePerSecond: number) => {
      const sent = Math.floor(Date.now() / 1000);
      expect((await steer(productId, "", { ratePerSecond })).status).toBe(200);
      return { from: sent, to: Math.floor(Date.now() / 1000) };
    };
    const faster = await change(15);
    await sleep(3_000);
    const slower = await change(2);
    await crowd;

    const all = await series(productId);
    const rateAt = (t: number) => (t < faster.from ? 4 : t <= slower.from ? 15 : 2);
    const during = (c: { from: number; to: number }, t: number) => t >= c.from && t <= c.to;
    // The bucket's admissions never pass the rate in force plus the burst in any second; in the
    // second of a change both rates were in force (the old one until the control settled it).
    // The line moves at the rate between calls too, and a second's count is that of the calls
    // made in it: a call late by up to 3 polls (some answered "keep waiting" from an isolate's
    // projection) carries that much of the previous second into its own.
    const spill = (t: number) => Math.ceil((rateAt(t) * 3 * pollMs) / 1000);
    const bound = (t: number) => (during(faster, t) ? 4 + 15 : during(slower, t) ? 15 + 2 : rateAt(t)) + burst + spill(t);
    for (const s of all) expect(s.admitted, `admitted in second ${s.t}`).toBeLessThanOrEqual(bound(s.t));
    // The accepted series follows them, each buyer at its next call, so it may spill into the next second too.
    const perSecond = all.filter((s) => s.accepted > 0);
    for (const s of perSecond) expect(s.accepted, `accepted in second ${s.t}`).toBeLessThanOrEqual(rateAt(s.t) + burst + spill(s.t));
    const mean = (from: number, to: number) => perSecond.filter((s) => s.t > from && s.t < to).reduce((n, s) => n + s.accepted, 0) / Math.max(1, to - from - 1);
    const [before, fast, after] = [mean(faster.from - 3, faster.from), mean(faster.to, slower.from), mean(slower.to, Math.floor(deadline / 1000))];
    expect(fast).toBeGreaterThan(before * 2);
    expect(after).toBeLessThan(fast / 2);
  });

  it("restocks a sold-out sale with people in line: they buy, in order, and a newcomer after them", async () => {
    const productId = uniqueProduct("steer-restock");
    const line = Array.from({ length: 10 }, (_, i) => `l${i}`);
    await signIn(edge, [...line, "newcomer"]);
    await initSale(edge, { productId, quantity: 5, ratePerSecond: 5, burst: 1 });
    const deadline = Date.now() + 15_000;
    const crowd = line.map((userId) => follow(productId, userId, deadline));
    // Sold out at ~1 s; half the line is left waiting.
    for (; Number(await redis.hget(saleKeys(productId).sale, "remaining")) > 0; await sleep(100));
    await sleep(1_500);
    // As many units as people still in line: all of them go to the line, none to a newcomer.
    const waiting = 10 - 5;
    const restocked = await steer(productId, "", { addStock: waiting });
    expect(restocked.body).toMatchObject({ remaining: waiting, added: waiting });
    await sleep(200);
    const newcomer = follow(productId, "newcomer", Date.now() + 4_000);
    const bought = (await Promise.all([...crowd, newcomer])).filter((b): b is Bought => b !== undefined);
    expect(bought.map((b) => b.userId).sort()).toEqual(line.sort());
    // An isolate that remembered "sold out" learns the restock within SOLD_OUT_MEMORY_MS; a buyer polls every 100 ms.
    expect(inversions(bought, SOLD_OUT_MEMORY_MS + 300)).toEqual([]);
  });

  it("applies one control sent to two isolates at once exactly once", async () => {
    const productId = uniqueProduct("steer-twice");
    await initSale(edge, { productId, quantity: 10 });
    const key = crypto.randomUUID();
    const [a, b] = await Promise.all([steer(productId, "", { addStock: 7 }, key), steer(productId, "", { addStock: 7 }, key)]);
    expect(a.isolate).not.toBe(b.isolate);
    expect([a.body, b.body].map((r) => [r.version, r.remaining, r.added])).toEqual([
      [1, 17, 7],
      [1, 17, 7],
    ]);
    const entries = await redis.xrange(saleKeys(productId).outbox, "-", "+");
    expect(entries.filter(([, f]) => (JSON.parse(f[1]!) as { type: string }).type === "sale_steered")).toHaveLength(1);
  });
});
