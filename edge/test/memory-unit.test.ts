import { describe, expect, it } from "vitest";
import type { SaleSnapshot } from "../src/gate/gate";
import { KeyFilter } from "../src/gate/key-filter";
import { MAX_NEWCOMER_CALLS, SaleMemory, type GateSeat } from "../src/memory";
import { FRESH_VIEW_MS, GATE_CALL_IDLE_MS, GATE_SEAT_STALE_MS, GATE_WAIT_MAX_MS, GATE_WAIT_MS, SOLD_OUT_MEMORY_MS } from "../src/time-windows";

/** One isolate's memory on a clock the test moves by hand: no sleeps. */
function isolate() {
  let now = 1_000_000;
  const memory = new SaleMemory(() => now);
  return { memory, tick: (ms: number) => (now += ms) };
}

const view = (over: Partial<SaleSnapshot> = {}): SaleSnapshot => ({
  saleId: "s1",
  remaining: 10,
  issued: 0,
  admitted: 0,
  rate: 1,
  at: 1,
  claimed: 0,
  endsAt: 0,
  ...over,
});
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

  it("tells a ticket the line has not reached to keep waiting, from a fresh view only", () => {
    const { memory, tick } = isolate();
    memory.learn("p", view({ remaining: 10, issued: 20, admitted: 5, rate: 1, at: 1_000_000 }));
    expect(memory.stillQueued("p", { saleId: "s1", number: 9 })).toBeDefined();
    expect(memory.stillQueued("p", { saleId: "s1", number: 5 })).toBeUndefined();
    expect(memory.stillQueued("p", { saleId: "s0", number: 9 })).toBeUndefined();
    tick(FRESH_VIEW_MS + 1);
    expect(memory.stillQueued("p", { saleId: "s1", number: 9 })).toBeUndefined();
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

  describe("newcomers' queue for a gate call", () => {
    const seats = (memory: SaleMemory, n: number) => Array.from({ length: n }, () => memory.joinGateQueue("p"));
    const start = (memory: SaleMemory, seat: GateSeat) => {
      const turn = memory.startGateCall(seat);
      return "release" in turn ? turn.release : undefined;
    };

    it("with no view lets one call go; the rest wait for what it brings back", () => {
      const { memory } = isolate();
      const [a, b] = seats(memory, 2) as [GateSeat, GateSeat];
      const release = start(memory, a);
      expect(release).toBeDefined();
      expect(memory.startGateCall(b)).toEqual({ waitMs: GATE_WAIT_MS });
      release!();
      expect(start(memory, b)).toBeDefined();
    });

    it("keeps at most as many calls in flight as the units the line does not cover, and never more than the cap", () => {
      const { memory } = isolate();
      // 3 left, 1 claimed, 1 waiting: one more place is worth a call.
      memory.learn("p", view({ remaining: 3, claimed: 1, issued: 3, admitted: 2 }));
      const list = seats(memory, 3);
      expect(list.map((seat) => start(memory, seat) !== undefined)).toEqual([true, false, false]);
      for (const seat of list) memory.leaveGateQueue(seat);
      // Plenty left: the cap, however much stock there is (every other isolate may be calling too).
      memory.learn("p", view({ saleId: "s2", remaining: 10_000, at: 2 }));
      const more = seats(memory, MAX_NEWCOMER_CALLS + 5);
      expect(more.filter((seat) => start(memory, seat) !== undefined)).toHaveLength(MAX_NEWCOMER_CALLS - 1);
    });

    it("hands freed calls to the oldest seats first, whoever asks first", () => {
      const { memory } = isolate();
      memory.learn("p", view({ remaining: 2 }));
      const [a, b, c, d] = seats(memory, 4) as [GateSeat, GateSeat, GateSeat, GateSeat];
      const ra = start(memory, a)!;
      start(memory, b);
      // Both calls are taken; c and d wait, and a newer seat never overtakes them.
      const e = memory.joinGateQueue("p");
      ra();
      expect(start(memory, e)).toBeUndefined();
      expect(start(memory, d)).toBeUndefined();
      expect(start(memory, c)).toBeDefined();
    });

    it("lends a call the oldest seats leave idle to a seat that has waited as long (their timers run late), and frees the seat of one answered from memory", () => {
      const { memory, tick } = isolate();
      memory.learn("p", view({ remaining: 3 }));
      const [a, b, c, d, e] = seats(memory, 5) as [GateSeat, GateSeat, GateSeat, GateSeat, GateSeat];
      start(memory, a);
      // b was answered from memory (standby, sold out) and left; c has not asked again yet.
      memory.leaveGateQueue(b);
      expect(start(memory, d)).toBeDefined();
      expect(start(memory, e)).toBeUndefined();
      tick(GATE_CALL_IDLE_MS);
      // A newcomer asks the moment it arrives: the idle call is not its to take, though it asked first.
      const newcomer = memory.joinGateQueue("p");
      expect(start(memory, newcomer)).toBeUndefined();
      expect(start(memory, e)).toBeDefined();
      expect(start(memory, c)).toBeUndefined();
    });

    it("lends an idle call to a seat far back only once everyone ahead has had time to ask for it", () => {
      const { memory, tick } = isolate();
      memory.learn("p", view({ remaining: 10_000 }));
      const list = seats(memory, 5 * MAX_NEWCOMER_CALLS);
      const releases = list.slice(0, MAX_NEWCOMER_CALLS).map((seat) => start(memory, seat)!);
      releases[0]!();
      // Three rounds of seats sit ahead of this one (the front ones are late: their timers have not fired).
      const back = list[4 * MAX_NEWCOMER_CALLS]!;
      tick(GATE_CALL_IDLE_MS);
      expect(start(memory, back)).toBeUndefined();
      tick(3 * GATE_CALL_IDLE_MS - 1);
      expect(start(memory, back)).toBeUndefined();
      tick(1);
      expect(start(memory, back)).toBeDefined();
    });

    it("forgets the seat of a request that stopped asking (the runtime dropped it): a call is not held for it", () => {
      const { memory, tick } = isolate();
      memory.learn("p", view({ remaining: 1 }));
      const [a, c, d] = seats(memory, 3) as [GateSeat, GateSeat, GateSeat];
      const release = start(memory, a)!;
      tick(GATE_SEAT_STALE_MS + 1);
      expect(start(memory, d)).toBeUndefined();
      release();
      // c never asked again: d, next alive, takes the freed call at once.
      expect(start(memory, d)).toBeDefined();
      // Should c come back after all, it waits at the back.
      expect(memory.startGateCall(c)).toEqual({ waitMs: GATE_WAIT_MS });
    });

    it("asks a seat far back in the queue to wait longer, never longer than the max", () => {
      const { memory } = isolate();
      memory.learn("p", view({ remaining: 10_000 }));
      const list = seats(memory, 40 * MAX_NEWCOMER_CALLS);
      for (const seat of list.slice(0, MAX_NEWCOMER_CALLS)) start(memory, seat);
      const wait = (seat: GateSeat) => (memory.startGateCall(seat) as { waitMs: number }).waitMs;
      expect(wait(list[MAX_NEWCOMER_CALLS]!)).toBe(GATE_WAIT_MS);
      expect(wait(list[2 * MAX_NEWCOMER_CALLS]!)).toBe(2 * GATE_WAIT_MS);
      expect(wait(list.at(-1)!)).toBe(GATE_WAIT_MAX_MS);
    });
  });
});
