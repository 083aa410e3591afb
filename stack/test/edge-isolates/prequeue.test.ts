import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { lotteryCommitment, placeOf, verifyLottery } from "@fluxgate/common";
import { solveChallenge } from "../../../load/pow.js";
import type {} from "../global-setup";
import { bearer, initSale, order, send, signIn, sleep, startEdge, ticketNumber, uniqueProduct, type EdgeUnderTest, type Reply } from "./harness";

let edge: EdgeUnderTest;
beforeAll(async () => {
  edge = await startEdge(inject("stack"), 4);
});
afterAll(() => edge?.stop());

interface Prequeued {
  status?: string;
  entry?: string;
  entries?: number;
  drawing?: boolean;
  startsAt?: string;
  prequeueOpensAt?: string;
  ticket?: string;
}
interface Published {
  status?: string;
  saleId: string;
  commitment: string;
  seed?: string;
  entries: number;
  places: string[];
}

const iso = (ms: number) => new Date(ms).toISOString();
const until = async (ms: number) => sleep(Math.max(0, ms - Date.now()));
const prequeueOf = (productId: string) => send<Published>(edge, `/sales/${productId}/prequeue`);
const evalshas = () => edge.commands.get("EVALSHA") ?? 0;

/** Orders again (same key) while the draw runs: the answer then is a place (302), or a purchase for the first places. */
async function afterTheDraw(productId: string, userId: string, key: string): Promise<Reply<Prequeued & { orderId?: string }>> {
  for (let i = 0; ; i++) {
    const r = await order(edge, { productId, userId }, { key });
    if (!(r.status === 202 && r.body.drawing) || i === 40) return r;
    await sleep(250);
  }
}

/** Mann–Whitney U of two samples of places, as a z-score (no ties: places are distinct). */
function mannWhitneyZ(a: number[], b: number[]): number {
  const ranked = [...a.map((v) => ({ v, inA: true })), ...b.map((v) => ({ v, inA: false }))].sort((x, y) => x.v - y.v);
  const rankSumA = ranked.reduce((sum, r, i) => sum + (r.inA ? i + 1 : 0), 0);
  const u = rankSumA - (a.length * (a.length + 1)) / 2;
  const mean = (a.length * b.length) / 2;
  const sd = Math.sqrt((a.length * b.length * (a.length + b.length + 1)) / 12);
  return (u - mean) / sd;
}

describe("the pre-queue and its lottery, across 4 isolates", () => {
  it("enters each buyer once before the start, draws the places at the start as published, and queues latecomers behind", async () => {
    const productId = uniqueProduct("prequeue");
    const buyers = Array.from({ length: 40 }, (_, i) => `early-${i}`);
    await signIn(edge, [...buyers, "too-soon", "late-1", "late-2"]);
    const opensAt = Date.now() + 1500;
    const startsAt = opensAt + 4000;
    await initSale(edge, { productId, quantity: 100, ratePerSecond: 0.5, burst: 1, prequeueOpensAt: iso(opensAt), startsAt: iso(startsAt) });

    // Before the pre-queue opens: the commitment is public, the seed is not; attempts are too early.
    const announced = await send<{ prequeue: { commitment: string; entries: number; drawn: boolean } }>(edge, `/sales/${productId}`);
    const commitment = announced.body.prequeue.commitment;
    expect(commitment).toMatch(/^[0-9a-f]{64}$/);
    expect(announced.body.prequeue).toMatchObject({ entries: 0, drawn: false });
    const early = await prequeueOf(productId);
    expect(early.status).toBe(425);
    expect(early.body).toMatchObject({ status: "not_drawn", commitment });
    expect(early.body).not.toHaveProperty("seed");
    const tooSoon = await order(edge, { productId, userId: "too-soon" });
    expect(tooSoon.status).toBe(425);
    expect(tooSoon.body).toMatchObject({ status: "not_started", prequeueOpensAt: iso(opensAt) });

    // In the window: every buyer gets an entry, one Redis command each, whichever isolate answers.
    await until(opensAt + 100);
    const before = evalshas();
    const entered = await Promise.all(buyers.map((userId) => order(edge, { productId, userId }, { key: `${userId}-k1` })));
    expect(evalshas() - before).toBe(buyers.length);
    expect(new Set(entered.map((r) => r.isolate)).size).toBe(4);
    for (const r of entered) {
      expect(r.status).toBe(202);
      expect(r.body).toMatchObject({ status: "prequeued", startsAt: iso(startsAt) });
      expect(r.body.entry).toMatch(/^[0-9a-f]{40}$/);
    }
    const entryOf = new Map(buyers.map((u, i) => [u, entered[i]!.body.entry!]));
    expect(new Set(entryOf.values()).size).toBe(buyers.length);
    // A repeat keeps the same entry: other keys of one buyer, on every isolate.
    const repeats = await Promise.all([2, 3, 4, 5].map((k) => order(edge, { productId, userId: "early-0" }, { key: `early-0-k${k}` })));
    expect(repeats.map((r) => r.body.entry)).toEqual([2, 3, 4, 5].map(() => entryOf.get("early-0")));
    expect((await send<{ prequeue: { entries: number } }>(edge, `/sales/${productId}`)).body.prequeue.entries).toBe(buyers.length);
    // The page counts down from the ticket alone.
    const waiting = await send<{ state: string; secondsToStart: number; entry: string }>(edge, `/waiting-room/status?productId=${productId}`, {
      headers: { ...(await bearer(edge, "early-1")), "x-queue-ticket": entered[1]!.body.ticket! },
    });
    expect(waiting.body).toMatchObject({ state: "prequeued", entry: entryOf.get("early-1") });
    expect(waiting.body.secondsToStart).toBeGreaterThan(0);

    // The start: latecomers queue behind every entry, whatever the draw's progress.
    await until(startsAt + 50);
    const late = [await order(edge, { productId, userId: "late-1" }), await order(edge, { productId, userId: "late-2" })];
    expect(late.map((r) => r.status)).toEqual([302, 302]);
    expect(late.map((r) => ticketNumber(r.body.ticket!))).toEqual([buyers.length + 1, buyers.length + 2]);

    // Each buyer orders again with its key: its place is the one the published draw gives its entry.
    const again = await Promise.all(buyers.map((userId) => afterTheDraw(productId, userId, `${userId}-k1`)));
    const published = await prequeueOf(productId);
    expect(published.status).toBe(200);
    expect(published.body.seed).not.toBe(commitment);
    expect(lotteryCommitment(published.body.seed!)).toBe(commitment);
    expect(verifyLottery({ commitment: published.body.commitment, seed: published.body.seed!, places: published.body.places }, commitment)).toEqual({
      ok: true,
      problems: [],
    });
    expect(new Set(published.body.places)).toEqual(new Set(entryOf.values()));
    buyers.forEach((userId, i) => {
      const r = again[i]!;
      const place = placeOf(published.body, entryOf.get(userId)!)!;
      // The bucket's one token admits place 1 at once (200); everyone else holds a numbered place.
      if (r.status === 200) expect(place).toBe(1);
      else {
        expect(r.status).toBe(302);
        expect(ticketNumber(r.body.ticket!)).toBe(place);
      }
    });
    // A tampered copy does not verify.
    const swapped = [...published.body.places].reverse();
    expect(verifyLottery({ ...published.body, seed: published.body.seed!, places: swapped }, commitment).ok).toBe(false);
  });

  it("gives early and late arrivals in the window the same odds (two waves, places indistinguishable from uniform)", async () => {
    const productId = uniqueProduct("prequeue-waves");
    const wave = (name: string) => Array.from({ length: 150 }, (_, i) => `${name}-${i}`);
    const [first, second] = [wave("first"), wave("second")];
    await signIn(edge, [...first, ...second]);
    const opensAt = Date.now() + 500;
    const startsAt = opensAt + 6000;
    await initSale(edge, { productId, quantity: 10, ratePerSecond: 1, prequeueOpensAt: iso(opensAt), startsAt: iso(startsAt) });
    await until(opensAt + 50);
    const firstReplies = await Promise.all(first.map((userId) => order(edge, { productId, userId })));
    await until(startsAt - 1500);
    const secondReplies = await Promise.all(second.map((userId) => order(edge, { productId, userId })));
    expect([...firstReplies, ...secondReplies].every((r) => r.status === 202)).toBe(true);

    // Nobody orders at the start: the waiting pages' status polls alone close the pre-queue and get it drawn.
    await until(startsAt + 50);
    const headers = { ...(await bearer(edge, first[0]!)), "x-queue-ticket": firstReplies[0]!.body.ticket! };
    expect((await send<{ state: string }>(edge, `/waiting-room/status?productId=${productId}`, { headers })).body.state).toBe("started");
    let published = await prequeueOf(productId);
    for (let i = 0; published.status !== 200 && i < 40; i++) {
      await sleep(250);
      await send(edge, `/waiting-room/status?productId=${productId}`, { headers });
      published = await prequeueOf(productId);
    }
    expect(published.status).toBe(200);
    expect(verifyLottery({ ...published.body, seed: published.body.seed! }).ok).toBe(true);

    const placesOf = (replies: Reply<Prequeued>[]) => replies.map((r) => placeOf(published.body, r.body.entry!)!);
    const [a, b] = [placesOf(firstReplies), placesOf(secondReplies)];
    // Arrival does not move anyone forward: neither wave's places lean to the front (|z| < 4: a false alarm once in 15,000 runs).
    expect(Math.abs(mannWhitneyZ(a, b))).toBeLessThan(4);
    // And each wave is spread over the whole line: deciles of 300 places, chi-square with 9 degrees of freedom (99.99%: 33.7).
    for (const places of [a, b]) {
      const bins = new Array<number>(10).fill(0);
      for (const p of places) bins[Math.floor((p - 1) / 30)]!++;
      const chi2 = bins.reduce((sum, n) => sum + (n - 15) ** 2 / 15, 0);
      expect(chi2).toBeLessThan(33.7);
    }
  });

  it("refuses an entry for more than the per-user limit, and tells a ticket of a restarted sale to order again", async () => {
    const productId = uniqueProduct("prequeue-limit");
    await signIn(edge, ["greedy"]);
    const window = { prequeueOpensAt: iso(Date.now()), startsAt: iso(Date.now() + 60_000) };
    await initSale(edge, { productId, quantity: 5, perUserLimit: 1, ...window });
    const greedy = await order(edge, { productId, userId: "greedy", quantity: 2 });
    expect(greedy.status).toBe(409);
    expect(greedy.body).toMatchObject({ status: "limit_reached", limit: 1 });
    expect((await send<{ prequeue: { entries: number } }>(edge, `/sales/${productId}`)).body.prequeue.entries).toBe(0);
    const entered = await order(edge, { productId, userId: "greedy" });
    expect(entered.status).toBe(202);

    // The operator restarts the sale: the old pre-queue ticket is told to order again, on every isolate that knows.
    await initSale(edge, { productId, quantity: 5, ...window });
    const again = await order(edge, { productId, userId: "greedy" });
    expect(again.status).toBe(202);
    expect(again.body.entry).not.toBe(entered.body.entry);
    const replies = await Promise.all(
      [0, 1, 2, 3].map(async () =>
        send<{ state: string }>(edge, `/waiting-room/status?productId=${productId}`, {
          headers: { ...(await bearer(edge, "greedy")), "x-queue-ticket": entered.body.ticket! },
        }),
      ),
    );
    // An isolate that saw the new sale says "expired"; one that has not seen it yet counts down (its next order re-enters).
    expect(replies.some((r) => r.body.state === "expired")).toBe(true);
    expect(replies.every((r) => ["expired", "prequeued"].includes(r.body.state))).toBe(true);
  });

  it("asks for proof of work to enter, not again for the place at the start", async () => {
    const productId = uniqueProduct("prequeue-pow");
    await signIn(edge, ["solver"]);
    const opensAt = Date.now() + 200;
    const startsAt = opensAt + 2500;
    await initSale(edge, { productId, quantity: 5, powDifficulty: 8, prequeueOpensAt: iso(opensAt), startsAt: iso(startsAt) });
    await until(opensAt + 50);
    const key = "solver-key";
    const challenged = await order(edge, { productId, userId: "solver" }, { key });
    expect(challenged.status).toBe(401);
    const challenge = challenged.body as unknown as { challenge: string; difficulty: number };
    const solution = solveChallenge(challenge.challenge, challenge.difficulty, (t: string) => createHash("sha256").update(t).digest("hex"));
    const entered = await send<Prequeued>(edge, "/order", {
      method: "POST",
      headers: {
        ...(await bearer(edge, "solver")),
        "content-type": "application/json",
        "idempotency-key": key,
        "x-challenge-solution": solution,
      },
      body: JSON.stringify({ productId }),
    });
    expect(entered.status).toBe(202);
    await until(startsAt + 50);
    // After the start the entry is the place: with its ticket, on any isolate, no challenge.
    const bought = await (async () => {
      for (let i = 0; ; i++) {
        const r = await order(edge, { productId, userId: "solver" }, { key: "solver-after-start", ticket: entered.body.ticket! });
        if (!(r.status === 202 && r.body.drawing) || i === 40) return r;
        await sleep(250);
      }
    })();
    expect(bought.status).toBe(200);
  });
});
