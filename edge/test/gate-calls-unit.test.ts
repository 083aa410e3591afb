import { describe, expect, it } from "vitest";
import { snapshot } from "./snapshot";
import type { SaleSnapshot } from "../src/gate/gate";
import { SaleMemory } from "../src/memory";
import { GateCalls, MAX_NEWCOMER_CALLS, type GateSeat } from "../src/purchase/gate-calls";
import { unitsUncovered } from "../src/queue-view";
import { GATE_CALL_IDLE_MS, GATE_SEAT_STALE_MS, GATE_WAIT_MAX_MS, GATE_WAIT_MS } from "../src/time-windows";

/** One isolate's view of a sale and its queue for gate calls, on a clock the test moves by hand. */
function isolate() {
  let now = 1_000_000;
  const sales = new SaleMemory(() => now);
  const calls = new GateCalls(() => now);
  const memory = {
    learn: (productId: string, snapshot: SaleSnapshot) => sales.learn(productId, snapshot),
    join: (productId: string) => calls.join(productId),
    leave: (seat: GateSeat) => calls.leave(seat),
    /** As the order route asks: with the units the isolate's last view says the line does not cover. */
    startGateCall: (seat: GateSeat) => {
      const known = sales.view(seat.productId);
      return calls.start(seat, known && unitsUncovered(known.snapshot));
    },
  };
  return { memory, tick: (ms: number) => (now += ms) };
}
type Isolate = ReturnType<typeof isolate>["memory"];

const view = snapshot;

describe("GateCalls: newcomers' queue for a gate call (one isolate)", () => {
  const seats = (memory: Isolate, n: number) => Array.from({ length: n }, () => memory.join("p"));
  const start = (memory: Isolate, seat: GateSeat) => {
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
    for (const seat of list) memory.leave(seat);
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
    const e = memory.join("p");
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
    memory.leave(b);
    expect(start(memory, d)).toBeDefined();
    expect(start(memory, e)).toBeUndefined();
    tick(GATE_CALL_IDLE_MS);
    // A newcomer asks the moment it arrives: the idle call is not its to take, though it asked first.
    const newcomer = memory.join("p");
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
