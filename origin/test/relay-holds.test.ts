/**
 * When the origin sweeps a quiet sale's holds, without Redis: a clock the test moves, the
 * schedule's answers checked against what hold-sweeper.ts then does (sweep these sales, sleep until).
 */
import type { OrderMessage, OrderStatus, SaleStarted } from "@fluxgate/common";
import { beforeEach, describe, expect, it } from "vitest";
import { HoldSchedule } from "../src/relay-holds";

const INTERVAL = 1_000;
const STARTED = 1_000;

let t: number;
let schedule: HoldSchedule;

function held(productId: string, orderId: string, holdExpiresAt: number | undefined, startedAt = STARTED): OrderMessage {
  return {
    v: 1,
    type: "order",
    orderId,
    saleId: `${productId}-${startedAt}`,
    productId,
    userId: `u-${orderId}`,
    quantity: 1,
    idempotencyKey: `k-${orderId}`,
    acceptedAt: t,
    sale: { quantity: 10, perUserLimit: 1, startedAt, added: 0 },
    ...(holdExpiresAt === undefined ? {} : { holdExpiresAt }),
  };
}

const ended = (order: OrderMessage, status: OrderStatus["status"]): OrderStatus => ({
  v: 1,
  type: "order_status",
  orderId: order.orderId,
  saleId: order.saleId,
  productId: order.productId,
  status,
  by: status === "paid" ? "shop" : "expiry",
  at: t,
  order,
});

const started = (productId: string, startedAt: number): SaleStarted => ({
  v: 1,
  type: "sale",
  saleId: `${productId}-${startedAt}`,
  productId,
  quantity: 10,
  perUserLimit: 1,
  startedAt,
  added: 0,
});

beforeEach(() => {
  t = 1_000_000;
  schedule = new HoldSchedule({ intervalMs: INTERVAL, now: () => t });
});

describe("a sale's holds", () => {
  it("are swept once the earliest expiry passed, not before, and the next sweep follows Redis' next hold", () => {
    schedule.saw(held("p", "a", t + 2_000));
    schedule.saw(held("p", "b", t + 5_000));
    expect(schedule.nextDueAt()).toBe(t + 2_000);
    t += 1_999;
    expect(schedule.due()).toEqual([]);
    t += 1;
    expect(schedule.due()).toEqual(["p"]);
    // In flight: not due again until it answered.
    expect(schedule.due()).toEqual([]);
    expect(schedule.nextDueAt()).toBeUndefined();
    schedule.swept("p", { now: t, next: { orderId: "b", expiresAt: t + 3_000 } });
    expect(schedule.pending).toBe(1);
    expect(schedule.nextDueAt()).toBe(t + 3_000);
  });

  it("cost no sweep when they are paid or cancelled before they expire", () => {
    const [a, b] = [held("p", "a", t + 2_000), held("p", "b", t + 2_500)];
    schedule.saw(a);
    schedule.saw(b);
    schedule.saw(ended(a, "paid"));
    expect(schedule.nextDueAt()).toBe(t + 2_500);
    schedule.saw(ended(b, "cancelled"));
    expect(schedule.nextDueAt()).toBeUndefined();
    t += 10_000;
    expect(schedule.due()).toEqual([]);
    expect(schedule.pending).toBe(0);
  });

  it("cost no sweep when the payment's forward overtakes its order's", () => {
    const a = held("p", "a", t + 2_000);
    schedule.saw(ended(a, "paid"));
    schedule.saw(a);
    expect(schedule.nextDueAt()).toBeUndefined();
    t += 10_000;
    expect(schedule.due()).toEqual([]);
  });

  it("are swept at most once per interval however many expire one after the other", () => {
    for (let i = 0; i < 50; i++) schedule.saw(held("p", `o${i}`, t + 100 + i * 20));
    let sweeps = 0;
    const from = t;
    while (schedule.pending > 0) {
      const at = schedule.nextDueAt()!;
      t = Math.max(t, at);
      for (const productId of schedule.due()) {
        sweeps++;
        schedule.swept(productId, { now: t });
      }
    }
    // 50 expiries over 1 s: the first at +100 ms, the rest in one more sweep a second later.
    expect(sweeps).toBe(2);
    expect(t - from).toBe(100 + INTERVAL);
  });

  it("ignore orders without a hold", () => {
    schedule.saw(held("p", "a", undefined));
    expect(schedule.nextDueAt()).toBeUndefined();
  });

  it("of each sale are swept on their own", () => {
    schedule.saw(held("p", "a", t + 100));
    schedule.saw(held("q", "b", t + 100));
    t += 100;
    expect(schedule.due().sort()).toEqual(["p", "q"]);
  });

  it("come from the answer too: a hold this origin never saw (another origin's forward) is swept at its expiry", () => {
    schedule.saw(held("p", "a", t + 100));
    t += 100;
    schedule.due();
    schedule.swept("p", { now: t, next: { orderId: "unseen", expiresAt: t + 4_000 } });
    expect(schedule.nextDueAt()).toBe(t + 4_000);
    // Paid meanwhile, as the forward of its payment tells: no sweep for it.
    schedule.saw(ended(held("p", "unseen", t + 4_000), "paid"));
    expect(schedule.nextDueAt()).toBeUndefined();
  });

  it("when more expired than one sweep ends, the next sweep is one interval later", () => {
    schedule.saw(held("p", "a", t + 100));
    t += 100;
    schedule.due();
    schedule.swept("p", { now: t, next: { orderId: "z", expiresAt: t - 50 } });
    expect(schedule.nextDueAt()).toBe(t + INTERVAL);
  });

  it("are due on Redis' clock: an origin whose clock runs 300 ms behind sweeps 300 ms earlier by its own", () => {
    schedule.saw(held("p", "a", t + 100));
    t += 100;
    schedule.due();
    // Redis said it is 300 ms later than this origin thinks.
    schedule.swept("p", { now: t + 300 });
    schedule.saw(held("p", "b", t + 300 + 5_000));
    expect(schedule.nextDueAt()).toBe(t + 5_000);
  });

  it("are tried again an interval later when a sweep failed", () => {
    schedule.saw(held("p", "a", t + 100));
    t += 100;
    expect(schedule.due()).toEqual(["p"]);
    schedule.sweepFailed("p");
    expect(schedule.nextDueAt()).toBe(t + INTERVAL);
  });
});

describe("a sale restarted (POST /init)", () => {
  it("drops the older run's holds, and ignores that run's late events", () => {
    schedule.saw(held("p", "old", t + 100));
    schedule.saw(started("p", STARTED + 1));
    expect(schedule.nextDueAt()).toBeUndefined();
    schedule.saw(held("p", "late", t + 200));
    expect(schedule.nextDueAt()).toBeUndefined();
    schedule.saw(held("p", "new", t + 300, STARTED + 1));
    expect(schedule.nextDueAt()).toBe(t + 300);
  });
});

describe("an origin that just started", () => {
  it("sweeps each sale it reads once, at once, to learn its holds; a sale it knows is not swept again", () => {
    schedule.saw(held("known", "a", t + 5_000));
    schedule.learn(["p", "known"]);
    expect(schedule.due()).toEqual(["p"]);
    schedule.swept("p", { now: t });
    expect(schedule.nextDueAt()).toBe(t + 5_000);
    schedule.learn(["p"]);
    expect(schedule.due()).toEqual([]);
  });

  it("forgets a sale whose outbox the relay retired", () => {
    schedule.saw(held("p", "a", t + 100));
    schedule.forget("p");
    expect(schedule.nextDueAt()).toBeUndefined();
  });
});
