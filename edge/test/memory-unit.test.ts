import { describe, expect, it } from "vitest";
import { snapshot } from "./snapshot";
import { KeyFilter } from "../src/gate/key-filter";
import { MAX_BUYERS_AT_LIMIT, MAX_NAMED_PRODUCTS, SaleMemory } from "../src/memory";
import { FRESH_VIEW_MS, NEGATIVE_MEMORY_MS, PAUSED_RECHECK_MS, RECHECK_MS, SOLD_OUT_MEMORY_MS } from "../src/time-windows";

/** One isolate's memory on a clock the test moves by hand: no sleeps. */
function isolate() {
  let now = 1_000_000;
  const memory = new SaleMemory(() => now);
  return { memory, tick: (ms: number) => (now += ms) };
}

const view = snapshot;
/** A filter that has seen nothing (what the gate sends before any key was added). */
const empty = () => KeyFilter.parse("64:")!;

describe("SaleMemory (one isolate)", () => {
  it("answers sold out from memory only with the sale's accepted-keys filter, and re-checks once per window", () => {
    const { memory, tick } = isolate();
    memory.learn("p", view({ remaining: 0 }));
    // Sold out, but no filter: a paid buyer's key might be anywhere, so Redis is asked.
    expect(memory.soldOut("p")).toBeUndefined();
    memory.learn("p", view({ remaining: 0 }), { acceptedKeys: empty(), queuedKeys: undefined });
    expect(memory.soldOut("p")).toBeDefined();
    tick(SOLD_OUT_MEMORY_MS);
    // Stale: exactly one request re-checks, the rest keep answering from memory meanwhile.
    expect(memory.soldOut("p")).toBeUndefined();
    expect(memory.soldOut("p")).toBeDefined();
    expect(memory.soldOut("p")).toBeDefined();
    tick(1_000);
    expect(memory.soldOut("p")).toBeUndefined();
  });

  it("keeps answers per sale: a new saleId forgets the old sale's answers and filters", () => {
    const { memory, tick } = isolate();
    memory.learn("p", view({ remaining: 0 }), { acceptedKeys: empty(), queuedKeys: undefined });
    memory.rememberAnswer("p", "s1", "k", { request: "p\nu\n1", status: 200, body: { orderId: "old" } });
    expect(memory.answerFor("p", "k")?.body).toEqual({ orderId: "old" });
    memory.learn("p", view({ saleId: "s2", at: 2 }));
    expect(memory.answerFor("p", "k")).toBeUndefined();
    expect(memory.soldOut("p")).toBeUndefined();
    // An answer of the old sale arriving late is not kept for the new one.
    memory.rememberAnswer("p", "s1", "k", { request: "p\nu\n1", status: 200, body: { orderId: "old" } });
    expect(memory.answerFor("p", "k")).toBeUndefined();
    // And nothing is replayed from a view older than the re-check window.
    memory.rememberAnswer("p", "s2", "k", { request: "p\nu\n1", status: 200, body: { orderId: "new" } });
    tick(SOLD_OUT_MEMORY_MS);
    expect(memory.answerFor("p", "k")).toBeUndefined();
  });

  it("never lets an older gate answer of the same sale replace a newer one", () => {
    const { memory } = isolate();
    memory.learn("p", view({ remaining: 3 }));
    memory.learn("p", view({ remaining: 5 }));
    expect(memory.view("p")?.snapshot.remaining).toBe(3);
    // As much stock left, fewer places given: older too (it would reopen places already given).
    memory.learn("p", view({ remaining: 3, issued: 40, at: 5 }));
    memory.learn("p", view({ remaining: 3, issued: 30, at: 6 }));
    expect(memory.view("p")?.snapshot.issued).toBe(40);
  });

  it("puts newcomers on standby only from a fresh view and a fresh queued-keys filter, fetched again when the view outgrows it", () => {
    const { memory, tick } = isolate();
    const covered = view({ remaining: 2, issued: 3, admitted: 1 });
    memory.learn("p", covered);
    expect(memory.standby("p")).toBeUndefined();
    memory.learn("p", covered, { acceptedKeys: undefined, queuedKeys: empty() });
    expect(memory.standby("p")).toBeDefined();
    // A newer view with a ticket the filter never saw: the next gate call brings a new filter,
    // and only one request in flight asks for it.
    memory.learn("p", view({ remaining: 2, issued: 4, admitted: 1 }));
    expect(memory.filtersWanted("p").queued).toBe(true);
    expect(memory.filtersWanted("p").queued).toBe(false);
    tick(FRESH_VIEW_MS + 1);
    expect(memory.standby("p")).toBeUndefined();
  });

  it("asks for the queued-keys filter only once the line covers half the units left (standby needs it when it covers them all)", () => {
    const { memory, tick } = isolate();
    // A line far shorter than the stock (a huge sale, a slow rate): no filter, however the line grows.
    memory.learn("p", view({ remaining: 1_000_000, issued: 3, admitted: 1 }));
    expect(memory.filtersWanted("p").queued).toBe(false);
    tick(RECHECK_MS + 1);
    memory.learn("p", view({ remaining: 1_000_000, issued: 40, admitted: 1 }));
    expect(memory.filtersWanted("p").queued).toBe(false);
    // Waiting people cover half the units left: the next gate call brings the filter, before standby needs it.
    memory.learn("p", view({ remaining: 78, issued: 40, admitted: 1 }));
    expect(memory.filtersWanted("p").queued).toBe(true);
    // Brought back: a look needs no newer one, but an attempt that may take a place asks again,
    // so the filter holds the last place before the line covers the stock.
    memory.learn("p", view({ remaining: 78, issued: 40, admitted: 1 }), { acceptedKeys: undefined, queuedKeys: empty() });
    expect(memory.filtersWanted("p").queued).toBe(false);
    expect(memory.filtersWanted("p", true).queued).toBe(true);
    expect(memory.filtersWanted("p", true).queued).toBe(false);
  });

  it("at a pre-queue's start puts nobody on standby from a filter older than the start, even while a newer one is on its way", () => {
    for (const prequeueOpensAt of [0, 1]) {
      const { memory } = isolate();
      memory.learn("p", view({ remaining: 2, issued: 1, prequeueOpensAt }), { acceptedKeys: undefined, queuedKeys: empty() });
      // The start (or, without a pre-queue, a crowd queuing): the view knows 50 tickets the filter does not.
      memory.learn("p", view({ remaining: 2, issued: 50, prequeueOpensAt }));
      expect(memory.filtersWanted("p").queued).toBe(true);
      // Without a pre-queue the others decide from the filter they have meanwhile; at a pre-queue's start
      // that filter lacks everyone who entered after it was fetched, so nobody is put on standby.
      expect(memory.standby("p") === undefined).toBe(prequeueOpensAt > 0);
      memory.learn("p", view({ remaining: 2, issued: 50, prequeueOpensAt }), { acceptedKeys: undefined, queuedKeys: empty() });
      expect(memory.standby("p")).toBeDefined();
    }
  });

  it("counts the line's claims: admitted people holding units cover the stock too", () => {
    const { memory } = isolate();
    memory.learn("p", view({ remaining: 2, issued: 2, admitted: 2, claimed: 2 }), { acceptedKeys: undefined, queuedKeys: empty() });
    expect(memory.standby("p")).toBeDefined();
    memory.learn("p", view({ remaining: 2, issued: 2, admitted: 2, claimed: 1 }), { acceptedKeys: undefined, queuedKeys: empty() });
    expect(memory.standby("p")).toBeUndefined();
  });

  it("hands the sold-out answers given from memory to the next gate call, once", () => {
    const { memory } = isolate();
    memory.learn("p", view());
    memory.countSoldOutAnswer("p");
    memory.countSoldOutAnswer("p");
    expect(memory.takeSoldOutAnswers("p")).toBe(2);
    expect(memory.takeSoldOutAnswers("p")).toBe(0);
  });
});

describe("SaleMemory: holds", () => {
  it("takes a view where held units came back as newer (by Redis' clock), and never says 'sold out' while units are held", () => {
    const { memory } = isolate();
    memory.learn("p", view({ remaining: 0, held: 1, at: 10 }), { acceptedKeys: empty(), queuedKeys: undefined });
    expect(memory.soldOut("p")).toBeUndefined();
    expect(memory.saysSoldOut("p")).toBe(false);
    memory.learn("p", view({ remaining: 1, held: 0, at: 20 }));
    expect(memory.view("p")?.snapshot.remaining).toBe(1);
    // An older reply, resolved late, does not take the unit away again.
    memory.learn("p", view({ remaining: 0, held: 1, at: 15 }));
    expect(memory.view("p")?.snapshot.remaining).toBe(1);
  });
});

describe("SaleMemory: the request that takes a re-check", () => {
  it("keeps it however often that request recalls on its way to Redis, while the others answer from memory", () => {
    const { memory, tick } = isolate();
    memory.learn("p", view({ remaining: 0 }), { acceptedKeys: empty(), queuedKeys: undefined });
    tick(SOLD_OUT_MEMORY_MS);
    const mine = {};
    expect(memory.recall("p", "u", "k", mine).soldOut).toBeUndefined();
    // The decision asks for a fact (a ticket, a probe) and recalls: still this request's re-check.
    expect(memory.recall("p", "u", "k", mine).soldOut).toBeUndefined();
    expect(memory.recall("p", "v", "k2", {}).soldOut).toBeDefined();
  });

  it("re-checks a paused view every PAUSED_RECHECK_MS, so a resume is noticed that soon", () => {
    const { memory, tick } = isolate();
    memory.learn("p", view({ paused: true, version: 1 }), { acceptedKeys: empty(), queuedKeys: undefined });
    expect(memory.recall("p", "u", "k", {}).paused).toBeDefined();
    tick(PAUSED_RECHECK_MS);
    expect(memory.recall("p", "u", "k", {}).paused).toBeUndefined();
    memory.learn("p", view({ paused: false, version: 2 }));
    expect(memory.recall("p", "u", "k", {}).paused).toBeUndefined();
  });
});

describe("SaleMemory's bounds: names a client makes up", () => {
  it("holds at most MAX_NAMED_PRODUCTS made-up product ids however many arrive, and forgets each after its window", () => {
    let now = 1_000_000;
    const memory = new SaleMemory(() => now);
    const random = () => `p-${crypto.randomUUID().slice(0, 30)}`;
    for (let i = 0; i < 1_000_000; i++) {
      const id = random();
      memory.rememberUnknown(id);
      memory.recall(id, "buyer", `k-${i}`);
      if (i % 2 === 0) memory.rememberPublicView(random(), undefined);
    }
    const sizes = memory.sizes();
    // Nothing about a made-up id reaches the per-sale maps: only Redis' replies for real sales do.
    expect({ sales: sizes.sales, publicViews: sizes.publicViews, powRequirements: sizes.powRequirements, refreshes: sizes.refreshes }).toEqual({
      sales: 0,
      publicViews: 0,
      powRequirements: 0,
      refreshes: 0,
    });
    // 10,000 ids of at most 64 characters: well under a few MB, whatever the flood.
    expect(sizes.unknown).toBe(MAX_NAMED_PRODUCTS);
    const last = random();
    memory.rememberUnknown(last);
    expect(memory.recall(last, "buyer", "k").unknown).toBe(true);
    now += NEGATIVE_MEMORY_MS;
    expect(memory.recall(last, "buyer", "k").unknown).toBe(false);
  });
});

describe("SaleMemory: buyers past the limit", () => {
  const atLimit = (keys: string[] = []) => ({ saleId: "s1", payload: '{"bought":1,"limit":1}', acceptedKeys: new Set(keys) });

  it("answers a buyer's new keys from memory, never one of their accepted orders' keys, and only the buyer's", () => {
    const { memory, tick } = isolate();
    memory.learn("p", view({ saleId: "s1" }));
    memory.rememberLimit("p", "alice", atLimit(["paid-key"]));
    expect(memory.recall("p", "alice", "new-key").limitReached?.saleId).toBe("s1");
    // Her accepted order's key goes to Redis, which replays the order (on any isolate).
    expect(memory.recall("p", "alice", "paid-key").limitReached).toBeUndefined();
    expect(memory.recall("p", "bob", "new-key").limitReached).toBeUndefined();
    // Like every answer from memory, only while the view is current: then one request re-checks.
    tick(SOLD_OUT_MEMORY_MS);
    expect(memory.recall("p", "alice", "new-key").limitReached).toBeUndefined();
    // A new run of the sale forgets it.
    memory.learn("p", view({ saleId: "s2", at: 2_000_000 }));
    expect(memory.recall("p", "alice", "new-key").limitReached).toBeUndefined();
  });

  it("keeps at most MAX_BUYERS_AT_LIMIT buyers per sale, however many accounts reach the limit", () => {
    const { memory } = isolate();
    memory.learn("p", view({ saleId: "s1" }));
    for (let i = 0; i < 1_000_000; i++) memory.rememberLimit("p", `user-${crypto.randomUUID()}`, atLimit());
    expect(memory.sizes().buyersAtLimit).toBe(MAX_BUYERS_AT_LIMIT);
  });
});
