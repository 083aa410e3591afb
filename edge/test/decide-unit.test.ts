import { describe, expect, it } from "vitest";
import { snapshot } from "./snapshot";
import type { GateReply, SaleSnapshot } from "../src/gate/gate";
import { KEY_FILTER_HASHES, KeyFilter, probeKey, type KeyProbe } from "../src/gate/key-filter";
import type { Recall } from "../src/memory";
import { decidePurchase, outcomeOfGate, requestOf, type PurchaseFacts } from "../src/purchase/decide";
import type { Ticket } from "../src/tickets";
import { FRESH_VIEW_MS } from "../src/time-windows";

const NOW = 1_000_000;

const view = (over: Partial<SaleSnapshot> = {}): SaleSnapshot => snapshot({ at: NOW, ...over });

/** What an isolate that knows nothing of the sale recalls. */
const nothing = (over: Partial<Recall> = {}): Recall => ({
  view: undefined,
  unknown: false,
  soldOut: undefined,
  ended: undefined,
  paused: undefined,
  answer: undefined,
  limitReached: undefined,
  standby: undefined,
  powDifficulty: 0,
  ...over,
});

/** A key filter holding exactly these probes' bits (the layout gate.lua writes). */
function filterOf(...probes: KeyProbe[]): KeyFilter {
  const bytes = 64;
  const codes = new Array<number>(bytes).fill(0);
  for (const { h1, h2 } of probes)
    for (let i = 0; i < KEY_FILTER_HASHES; i++) {
      const p = (h1 + i * h2) % (bytes * 7);
      codes[Math.floor(p / 7)]! |= 0x80 >> (1 + (p % 7));
    }
  return KeyFilter.parse(`${bytes}:${String.fromCharCode(...codes)}`)!;
}

const request = "p\nalice\n1";
async function facts(over: Partial<PurchaseFacts> = {}): Promise<PurchaseFacts> {
  return { productId: "p", userId: "alice", asked: 1, keyProbe: await probeKey("k"), ...over };
}
const ticket = (over: Partial<Ticket> = {}): Ticket => ({
  productId: "p",
  saleId: "s1",
  number: 5,
  admittedAtIssue: 0,
  rate: 1,
  issuedAt: NOW,
  quantity: 1,
  ...over,
});

describe("decidePurchase", () => {
  it("answers sold out (or ended) from memory only for a key the accepted-keys filter has never seen, and asks for the key's probe first", async () => {
    const other = await probeKey("someone-else");
    const soldOut = nothing({ soldOut: filterOf(other) });
    expect(decidePurchase({ ...(await facts()), keyProbe: undefined }, soldOut, NOW)).toEqual({ kind: "need", fact: "keyProbe" });
    expect(decidePurchase(await facts(), soldOut, NOW)).toEqual({ kind: "answer", outcome: { kind: "sold_out", fromMemory: true } });
    expect(decidePurchase(await facts(), nothing({ ended: filterOf(other) }), NOW)).toEqual({ kind: "answer", outcome: { kind: "ended", fromMemory: true } });
    // A key the filter may hold (a paid buyer's retry) goes on, to Redis in the end.
    const paid = nothing({ soldOut: filterOf(await probeKey("k")) });
    expect(decidePurchase(await facts(), paid, NOW)).toEqual({ kind: "need", fact: "ticket" });
  });

  it("says a product Redis just said has no sale is unknown, before looking at anything else", async () => {
    expect(decidePurchase({ ...(await facts()), keyProbe: undefined }, nothing({ unknown: true }), NOW)).toEqual({
      kind: "answer",
      outcome: { kind: "unknown_product" },
    });
  });

  it("replays the isolate's earlier final answer to the same request, and refuses the key with another", async () => {
    const answer = { request, status: 200, body: { orderId: "o1" } };
    expect(decidePurchase(await facts(), nothing({ answer }), NOW)).toEqual({ kind: "answer", outcome: { kind: "replay", answer } });
    expect(decidePurchase(await facts({ asked: 2 }), nothing({ answer }), NOW)).toEqual({ kind: "answer", outcome: { kind: "conflict" } });
  });

  it("binds a key that names no units to its ticket's, so the replay check waits for the ticket", async () => {
    const threeUnits = { request: "p\nalice\n3", status: 200, body: { orderId: "o3" } };
    const unnamed = await facts({ asked: undefined });
    expect(decidePurchase(unnamed, nothing({ answer: threeUnits }), NOW)).toEqual({ kind: "need", fact: "ticket" });
    expect(decidePurchase({ ...unnamed, ticket: ticket({ quantity: 3 }) }, nothing({ answer: threeUnits }), NOW)).toEqual({
      kind: "answer",
      outcome: { kind: "replay", answer: threeUnits },
    });
    // No ticket (or one that is not this buyer's): the default of one unit, another request than three.
    expect(decidePurchase({ ...unnamed, ticket: null }, nothing({ answer: threeUnits }), NOW)).toEqual({ kind: "answer", outcome: { kind: "conflict" } });
    expect(requestOf({ ...unnamed, ticket: "invalid" })).toBe(request);
  });

  it("refuses a body that names other units than its ticket's place, before any gate call or proof of work", async () => {
    const held = ticket({ quantity: 3 });
    expect(decidePurchase(await facts({ asked: 1, ticket: held }), nothing({ powDifficulty: 10 }), NOW)).toEqual({
      kind: "answer",
      outcome: { kind: "quantity_differs", quantity: 3 },
    });
    expect(decidePurchase(await facts({ asked: 3, ticket: held }), nothing(), NOW)).toMatchObject({ kind: "call_gate", newcomer: false });
    expect(decidePurchase(await facts({ asked: undefined, ticket: held }), nothing(), NOW)).toMatchObject({ kind: "call_gate", newcomer: false });
  });

  it("gives the places it hands out from memory the units the attempt asks for", async () => {
    const fresh = nothing({ view: { snapshot: view({ issued: 20, admitted: 2, rate: 1, at: NOW }), seenAt: NOW } });
    expect(decidePurchase(await facts({ asked: undefined, ticket: ticket({ number: 9, quantity: 3 }) }), fresh, NOW)).toMatchObject({
      outcome: { kind: "queued", ticket: { number: 9, quantity: 3 } },
    });
    const covered = nothing({ standby: { snapshot: view({ remaining: 2, issued: 3, admitted: 1, rate: 1, at: NOW }), queuedKeys: filterOf() } });
    expect(
      decidePurchase({ ...(await facts({ asked: 2, ticket: null, proof: { kind: "none" } })), buyerProbe: await probeKey("u:alice") }, covered, NOW),
    ).toMatchObject({
      outcome: { kind: "queued", standby: true, ticket: { number: 0, quantity: 2 } },
    });
  });

  it("refuses a ticket header that is not this buyer's before anything else is checked", async () => {
    expect(decidePurchase(await facts({ ticket: "invalid" }), nothing({ powDifficulty: 10 }), NOW)).toEqual({
      kind: "answer",
      outcome: { kind: "invalid_ticket" },
    });
  });

  it("tells a ticket the line has certainly not reached to keep waiting, from a fresh view of its own sale only", async () => {
    // Learned 1.5 s after Redis' clock said `at`; decided half a second later.
    const fresh = nothing({ view: { snapshot: view({ issued: 20, admitted: 2, rate: 1, at: NOW }), seenAt: NOW + 1_500 } });
    const waiting = decidePurchase(await facts({ ticket: ticket({ number: 9 }) }), fresh, NOW + 2_000);
    expect(waiting).toMatchObject({ kind: "answer", outcome: { kind: "queued", ahead: 5, ticket: { number: 9, saleId: "s1", admittedAtIssue: 4 } } });
    // Reached by the rate: only the gate knows whether its claim still stands.
    expect(decidePurchase(await facts({ ticket: ticket({ number: 4 }) }), fresh, NOW + 2_000)).toEqual({
      kind: "call_gate",
      newcomer: false,
    });
    // A stale view, or a view of another sale: the gate.
    const stale = decidePurchase(await facts({ ticket: ticket({ number: 9 }) }), fresh, NOW + 1_500 + FRESH_VIEW_MS + 1);
    expect(stale).toMatchObject({ kind: "call_gate", newcomer: false });
    expect(decidePurchase(await facts({ ticket: ticket({ number: 9, saleId: "s0" }) }), fresh, NOW)).toMatchObject({ kind: "call_gate" });
  });

  it("asks a newcomer for proof of work where the sale wants it, and hands a checked solution to the gate", async () => {
    const pow = nothing({ powDifficulty: 10, view: { snapshot: view({ remaining: 3 }), seenAt: NOW } });
    expect(decidePurchase(await facts({ ticket: null }), pow, NOW)).toEqual({ kind: "need", fact: "proof" });
    expect(decidePurchase(await facts({ ticket: null, proof: { kind: "none" } }), pow, NOW)).toEqual({
      kind: "answer",
      outcome: { kind: "challenge", problem: "required" },
    });
    // Without a fresh view that says units are left, the isolate looks at the sale (without the
    // key: an attempt with no work done cannot buy) and decides again; it says "sold out" before asking for work.
    const unsure = [nothing({ powDifficulty: 10 }), nothing({ powDifficulty: 10, view: { snapshot: view({ remaining: 0 }), seenAt: NOW } })];
    unsure.push(nothing({ powDifficulty: 10, view: { snapshot: view({ remaining: 3 }), seenAt: NOW - FRESH_VIEW_MS - 1 } }));
    for (const memory of unsure) {
      expect(decidePurchase(await facts({ ticket: null, proof: { kind: "none" } }), memory, NOW)).toEqual({ kind: "look" });
      // Looked, and memory still cannot say (e.g. "sold out for now", where the gate asks a
      // newcomer for work too): the work is asked for from memory, never a gate call in the name of no work.
      expect(decidePurchase(await facts({ ticket: null, proof: { kind: "none" }, looked: true }), memory, NOW)).toEqual({
        kind: "answer",
        outcome: { kind: "challenge", problem: "required" },
      });
    }
    expect(decidePurchase(await facts({ ticket: null, proof: { kind: "problem", problem: "forged" } }), nothing(), NOW)).toEqual({
      kind: "answer",
      outcome: { kind: "challenge", problem: "forged" },
    });
    expect(decidePurchase(await facts({ ticket: null, proof: { kind: "solved", argument: "s1|10|id|9" } }), pow, NOW)).toEqual({
      kind: "call_gate",
      newcomer: true,
      challenge: "s1|10|id|9",
    });
    // No setting known and nothing sent: the gate decides (and teaches the isolate the setting).
    expect(decidePurchase(await facts({ ticket: null, proof: { kind: "none" } }), nothing(), NOW)).toEqual({ kind: "call_gate", newcomer: true });
  });

  it("looks at a sold-out, ended or paused sale without the key of a newcomer who did no work, when it took the re-check", async () => {
    const skipper = await facts({ ticket: null, proof: { kind: "none" } });
    for (const snapshot of [view({ remaining: 3, paused: true }), view({ remaining: 0 }), view({ remaining: 3, endsAt: NOW - 1 })]) {
      const stale = { snapshot, seenAt: NOW - 1000 };
      // This attempt took the re-check (the filter answer is none for it): no work, no reason to send its key.
      const pow = nothing({ powDifficulty: 10, view: stale });
      expect(decidePurchase(skipper, pow, NOW)).toEqual({ kind: "look" });
      // Looked already, and memory still cannot say: asked for the work, from memory.
      expect(decidePurchase({ ...skipper, looked: true }, pow, NOW)).toEqual({ kind: "answer", outcome: { kind: "challenge", problem: "required" } });
      // Work done, or a sale without proof of work: the gate, with the key.
      const solved = await facts({ ticket: null, proof: { kind: "solved", argument: "s1|10|id|9" } });
      expect(decidePurchase(solved, pow, NOW)).toEqual({ kind: "call_gate", newcomer: true, challenge: "s1|10|id|9" });
      expect(decidePurchase(skipper, nothing({ view: stale }), NOW)).toEqual({ kind: "call_gate", newcomer: true });
    }
    // A key a fresh filter may hold (a paid buyer's retry, or a false positive): asked for the
    // work from memory, not sent to the gate in the name of no work; solved, it goes to the gate,
    // which replays a key it knows.
    const paused = nothing({ powDifficulty: 10, view: { snapshot: view({ paused: true }), seenAt: NOW }, paused: filterOf(await probeKey("k")) });
    expect(decidePurchase(skipper, paused, NOW)).toEqual({ kind: "answer", outcome: { kind: "challenge", problem: "required" } });
    const solvedRetry = await facts({ ticket: null, proof: { kind: "solved", argument: "s1|10|id|9" } });
    expect(decidePurchase(solvedRetry, paused, NOW)).toEqual({ kind: "call_gate", newcomer: true, challenge: "s1|10|id|9" });
    const soldOut = nothing({ powDifficulty: 10, view: { snapshot: view({ remaining: 0 }), seenAt: NOW }, soldOut: filterOf(await probeKey("k")) });
    expect(decidePurchase(skipper, soldOut, NOW)).toEqual({ kind: "answer", outcome: { kind: "challenge", problem: "required" } });
    // A place in line: the gate, with its ticket (the line may have reached it).
    const stalePause = nothing({ powDifficulty: 10, view: { snapshot: view({ paused: true }), seenAt: NOW - 1000 } });
    expect(decidePurchase(await facts({ ticket: ticket({ number: 2 }), proof: { kind: "none" } }), stalePause, NOW)).toEqual({
      kind: "call_gate",
      newcomer: false,
    });
  });

  it("lets a pre-queue ticket holder through to the gate with neither proof of work nor standby", async () => {
    const covered = view({ remaining: 1, issued: 5, prequeueOpensAt: 1 });
    const memory = nothing({ powDifficulty: 10, standby: { snapshot: covered, queuedKeys: filterOf() } });
    const held = ticket({ number: 0, prequeue: { entry: "e", startsAt: NOW } });
    expect(decidePurchase(await facts({ ticket: held }), memory, NOW)).toEqual({ kind: "call_gate", newcomer: true });
  });

  it("puts a newcomer on standby while the line covers the stock, unless the queued-keys filter may hold its key or its buyer", async () => {
    const covered = view({ remaining: 2, issued: 3, admitted: 1, rate: 1, at: NOW });
    const facts0 = { ...(await facts({ ticket: null, proof: { kind: "none" } })), buyerProbe: await probeKey("u:carol") };
    const standby = decidePurchase(facts0, nothing({ standby: { snapshot: covered, queuedKeys: filterOf() } }), NOW);
    expect(standby).toMatchObject({ kind: "answer", outcome: { kind: "queued", standby: true, ahead: 3, ticket: { number: 0, admittedAtIssue: 3 } } });
    const queuedKey = nothing({ standby: { snapshot: covered, queuedKeys: filterOf(await probeKey("k")) } });
    expect(decidePurchase(facts0, queuedKey, NOW)).toEqual({ kind: "call_gate", newcomer: true });

    // Alice has a place (or a pre-queue entry): any key of hers goes to the gate, which gives it back.
    const entered = nothing({ standby: { snapshot: covered, queuedKeys: filterOf(await probeKey("u:alice")) } });
    expect(decidePurchase({ ...facts0, buyerProbe: undefined }, entered, NOW)).toEqual({ kind: "need", fact: "buyerProbe" });
    expect(decidePurchase({ ...facts0, buyerProbe: await probeKey("u:alice") }, entered, NOW)).toEqual({ kind: "call_gate", newcomer: true });
    expect(decidePurchase({ ...facts0, userId: "bob", buyerProbe: await probeKey("u:bob") }, entered, NOW)).toMatchObject({
      kind: "answer",
      outcome: { kind: "queued", standby: true },
    });
  });
});

describe("decidePurchase: a buyer at the limit", () => {
  it("answers any new key of a buyer the gate said bought the limit from memory, before any ticket or proof check", async () => {
    const atLimit = nothing({ powDifficulty: 10, limitReached: { saleId: "s1", payload: '{"bought":1,"limit":1}', acceptedKeys: new Set(["paid"]) } });
    expect(decidePurchase(await facts(), atLimit, NOW)).toEqual({
      kind: "answer",
      outcome: { kind: "limit_reached", saleId: "s1", payload: '{"bought":1,"limit":1}', fromMemory: true },
    });
  });
});

describe("outcomeOfGate", () => {
  const snapshot = view({ remaining: 4, issued: 9, admitted: 3, rate: 2, at: NOW });
  it("turns a numbered place into a ticket of the sale with the people ahead", () => {
    const reply: GateReply = { kind: "queued", ticket: 9, expired: true, soldOutForNow: false, ...snapshot };
    expect(outcomeOfGate(reply, { productId: "p", quantity: 2 })).toEqual({
      kind: "queued",
      ticket: { productId: "p", saleId: "s1", number: 9, admittedAtIssue: 3, rate: 2, issuedAt: NOW, quantity: 2 },
      ahead: 6,
      expired: true,
    });
  });

  it("forwards a new acceptance only; a replayed one is answered the same without a second forward", () => {
    expect(outcomeOfGate({ kind: "accepted", order: "{}", outboxId: "1-0", ...snapshot }, { productId: "p", quantity: 2 })).toEqual({
      kind: "accepted",
      saleId: "s1",
      order: "{}",
      forward: { outboxId: "1-0" },
    });
    expect(outcomeOfGate({ kind: "replay", status: "accepted", payload: "{}", ...snapshot }, { productId: "p", quantity: 2 })).toEqual({
      kind: "accepted",
      saleId: "s1",
      order: "{}",
    });
    expect(outcomeOfGate({ kind: "replay", status: "limit_reached", payload: '{"limit":1}', ...snapshot }, { productId: "p", quantity: 2 })).toEqual({
      kind: "limit_reached",
      saleId: "s1",
      payload: '{"limit":1}',
    });
  });

  it("keeps the pre-queue's entry and start on the ticket", () => {
    const reply: GateReply = { kind: "drawing", entry: "abc", ...snapshot, startsAt: NOW - 5 };
    expect(outcomeOfGate(reply, { productId: "p", quantity: 2 })).toMatchObject({
      kind: "prequeued",
      drawing: true,
      ticket: { number: 0, quantity: 2, prequeue: { entry: "abc", startsAt: NOW - 5 } },
    });
  });
});
