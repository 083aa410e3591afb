/**
 * The relay's decisions without Redis or Kafka: a clock the test moves, the tracker's answers
 * checked against what relay.ts then does (claim, sweep, retire, sleep until).
 */
import { Outbox, saleKeys } from "@fluxgate/common";
import { beforeEach, describe, expect, it } from "vitest";
import { RelayTracker, type OutboxEvent } from "../src/relay-tracker";

const MIN_IDLE = 1_000;
const SWEEP = 60_000;
const MAX_BACKOFF = 10_000;
const [a, b, c] = ["a", "b", "c"].map((p) => saleKeys(p).outbox) as [string, string, string];

let t: number;
let tracker: RelayTracker;
/** A tracker past its first sweep (the next one sweepMs away), reading `open`. */
function started(...open: string[]) {
  tracker.settle();
  tracker.swept(open.map((stream) => ({ stream, state: "open" as const })));
}
const ids = (entries: Record<string, string[]>) => new Map(Object.entries(entries));
const event = (id: string, field: string, value: string): OutboxEvent => ({ id, field, value });

beforeEach(() => {
  t = 1_000_000;
  tracker = new RelayTracker({ minIdleMs: MIN_IDLE, sweepMs: SWEEP, maxBackoffMs: MAX_BACKOFF, now: () => t });
});

describe("entries read and not confirmed", () => {
  it("are claimed once minIdleMs passed, each once, and not before", () => {
    started(a);
    tracker.read(ids({ [a]: ["1-0", "2-0"] }), []);
    expect(tracker.backlog).toBe(2);
    t += MIN_IDLE - 1;
    expect(tracker.settle().claim).toEqual(new Map());
    t += 1;
    expect(tracker.settle().claim).toEqual(ids({ [a]: ["1-0", "2-0"] }));
    expect(tracker.backlog).toBe(0);
    expect(tracker.settle().claim).toEqual(new Map());
  });

  it("are claimed in reading order: an entry read later waits its own minIdleMs", () => {
    started(a, b);
    tracker.read(ids({ [a]: ["1-0"], [b]: ["1-0"] }), []);
    t += 600;
    tracker.read(ids({ [a]: ["2-0"] }), []);
    expect(tracker.nextDueAt()).toBe(t - 600 + MIN_IDLE);
    t += 400;
    expect(tracker.settle().claim).toEqual(ids({ [a]: ["1-0"], [b]: ["1-0"] }));
    expect(tracker.nextDueAt()).toBe(t + 600);
    t += 600;
    expect(tracker.settle().claim).toEqual(ids({ [a]: ["2-0"] }));
  });

  it("are left alone once a forward confirmed them", () => {
    started(a);
    tracker.read(ids({ [a]: ["1-0", "2-0"] }), []);
    tracker.confirmed(ids({ [a]: ["1-0"], [b]: ["9-0"] }));
    expect(tracker.backlog).toBe(1);
    t += MIN_IDLE;
    expect(tracker.settle().claim).toEqual(ids({ [a]: ["2-0"] }));
  });

  it("that Kafka did not take are claimed again after another minIdleMs", () => {
    started(a);
    tracker.read(ids({ [a]: ["1-0"] }), []);
    t += MIN_IDLE;
    tracker.settle();
    t += 50;
    tracker.produceFailed([{ stream: a, id: "1-0" }]);
    expect(tracker.nextDueAt()).toBe(t + MIN_IDLE);
  });

  it("whose claim failed are tried again within a second, keeping the time of one produced and re-tracked meanwhile", () => {
    tracker = new RelayTracker({ minIdleMs: 5_000, sweepMs: SWEEP, maxBackoffMs: MAX_BACKOFF, now: () => t });
    started(a, b);
    tracker.read(ids({ [a]: ["1-0"], [b]: ["1-0"] }), []);
    t += 5_000;
    const { claim } = tracker.settle();
    tracker.produceFailed([{ stream: b, id: "1-0" }]);
    tracker.claimFailed(claim);
    expect(tracker.nextDueAt()).toBe(t + 1_000);
    t += 1_000;
    expect(tracker.settle().claim).toEqual(ids({ [a]: ["1-0"] }));
    t += 4_000;
    expect(tracker.settle().claim).toEqual(ids({ [b]: ["1-0"] }));
  });
});

describe("sweeps", () => {
  it("sweep everything at start, soon after the read loop's own sweep, then every sweepMs", () => {
    expect(tracker.settle().sweep).toEqual({ kind: "all", streams: [] });
    tracker.swept([{ stream: a, state: "open" }]);
    tracker.resynced();
    expect(tracker.nextDueAt()).toBe(t + MIN_IDLE + 500);
    expect(tracker.settle().sweep).toBeUndefined();
    t += MIN_IDLE + 500;
    expect(tracker.settle().sweep).toEqual({ kind: "all", streams: [a] });
    expect(tracker.nextDueAt()).toBe(t + SWEEP);
  });

  it("after a failed sweep, try again after the longest backoff", () => {
    started();
    tracker.sweepFailed();
    expect(tracker.nextDueAt()).toBe(t + MAX_BACKOFF);
  });

  it("report an outbox the blocking read does not cover yet, and stop reading one retired or broken", () => {
    expect(tracker.swept([{ stream: a, state: "open" }]).added).toBe(true);
    tracker.read(ids({ [a]: ["1-0"] }), []);
    expect(tracker.swept([{ stream: a, state: "open" }]).added).toBe(false);
    expect(tracker.swept([{ stream: a, state: "retired" }])).toEqual({ added: false, retired: [a], broken: [] });
    expect(tracker.streams).toEqual([]);
    expect(tracker.backlog).toBe(0);
    expect(tracker.swept([{ stream: b, state: "broken" }]).broken).toEqual([b]);
    expect(tracker.swept([{ stream: b, state: "broken" }]).broken).toEqual([]);
  });

  it("learn outboxes registered meanwhile, and name a registered key that is no outbox once", () => {
    started(a);
    tracker.swept([{ stream: c, state: "broken" }]);
    expect(tracker.registry([a, b, c, "junk"], [])).toEqual({ outboxes: [b], strays: ["junk"] });
    expect(tracker.registry([a, b, "junk"], [b])).toEqual({ outboxes: [], strays: [] });
  });
});

describe("events", () => {
  it("sweep a sale that opened at once, even one found broken before", () => {
    started();
    tracker.swept([{ stream: b, state: "broken" }]);
    const read = tracker.read(new Map(), [event("1-0", Outbox.openedField, a), event("2-0", Outbox.openedField, b)]);
    expect(read).toEqual({ eventIds: ["1-0", "2-0"], opened: [a, b] });
    expect(tracker.swept([{ stream: b, state: "broken" }]).broken).toEqual([b]);
  });

  it("acknowledge an event naming no outbox without acting on it", () => {
    started(a);
    expect(tracker.read(new Map(), [event("1-0", Outbox.endedField, "fg:other"), event("2-0", "what", a)])).toEqual({
      eventIds: ["1-0", "2-0"],
      opened: [],
    });
    expect(tracker.nextDueAt()).toBe(t + SWEEP);
  });

  it("retire a sale that ended once its last forwards had time, retrying a few times, then leave it to the periodic sweep", () => {
    started(a);
    tracker.read(new Map(), [event("1-0", Outbox.endedField, a), event("2-0", Outbox.openedField, b), event("3-0", Outbox.endedField, b)]);
    tracker.read(new Map(), [event("4-0", Outbox.endedField, c)]);
    const endedAt = t + MIN_IDLE + 1_000;
    expect(tracker.nextDueAt()).toBe(endedAt);
    for (let tries = 0; tries <= 10; tries++) {
      t = endedAt + tries * MIN_IDLE;
      expect(tracker.settle().sweep).toEqual({ kind: "ended", streams: [a, b] });
    }
    t += MIN_IDLE;
    expect(tracker.settle().sweep).toBeUndefined();
    expect(tracker.nextDueAt()).toBe(endedAt - MIN_IDLE - 1_000 + SWEEP);
  });

  it("forget an ended sale that opened again", () => {
    started(a);
    tracker.read(new Map(), [event("1-0", Outbox.endedField, a)]);
    tracker.read(new Map(), [event("2-0", Outbox.openedField, a)]);
    t += SWEEP / 2;
    expect(tracker.settle().sweep).toBeUndefined();
  });
});
