import { describe, expect, it } from "vitest";
import { botKinds } from "../src/bench/bots";
import type { RequestRecord } from "../src/bench/sale";
import type { DemoSteering } from "../src/demo-steering";
import { holdHistory } from "../src/demo-holds";
import { controlsTable, holdsVerdict, outcomeTable, renderDemoReport, steeringClean, type DemoRun } from "../src/report/demo-report";

const steered: DemoSteering = {
  pause: { t: 4_000, resumedT: 7_100, pausedMs: 3_100, acceptedWhilePaused: 0, toldPaused: 120 },
  restock: { t: 12_000, units: 50, sold: 50, toLine: 48, toNewcomers: 2 },
  problems: [],
};

/** A demo's run as the report gets it: a crowd's worth of records (a hundred thousand and more), one second each of a 20 s sale. */
function demoRun(steering: DemoSteering, records = 150_000): DemoRun {
  const byKind = {
    order: { count: 0, status: {} },
    "order (retry)": { count: 0, status: {} },
    page: { count: 0, status: {} },
    status: { count: 0, status: {} },
  };
  return {
    productId: "crowd-test",
    runId: "test",
    edge: "4 workerd isolates",
    settings: { stock: 1000, buyers: 10_000, ratePerSecond: 200, arrivalSeconds: 20, connections: 64, powDifficulty: 10, botRequests: 0 },
    result: {
      buyers: 10_000,
      outcomes: { bought: 1050, sold_out: 8950, limit_reached: 0, error: 0, unfinished: 0 },
      orderIds: [],
      requests: records,
      byKind,
      durationMs: 20_000,
      lastAcceptedAtMs: 13_000,
      firstSoldOutAtMs: 11_900,
      latencyMs: { p50: 1, p99: 2, max: 3 },
      errors: [],
      prequeued: [],
    },
    records: Array.from(
      { length: records },
      (_, i): RequestRecord => ({
        t: Math.floor((i / records) * 20_000),
        kind: i % 3 ? "status" : "order",
        status: 200,
        outcome: "accepted",
        ms: 5,
        edgeMs: 1,
      }),
    ),
    samples: [{ t: 0, remaining: 1000, queued: 0 }],
    events: [
      { t: 4_000, label: 'sale paused by "demo"', kind: "paused" },
      { t: 7_100, label: 'sale resumed by "demo"', kind: "resumed" },
      { t: 12_000, label: 'restocked +50 by "demo"' },
    ],
    steering,
    adversaries: {
      scalper: {
        keys: 0,
        places: [],
        standby: 0,
        unitsBought: 0,
        answers: {},
        requests: 0,
        peakAdmitted: 0,
        unfinished: 0,
        tabs: [],
        sub: "scalper",
        limit: 1,
        redisCommands: 0,
      },
      attack: [],
      catalogReadsOutside: 0,
      measured: true,
    },
    audit: {
      productId: "crowd-test",
      saleId: "s1",
      redis: { initial: 1000, added: 50, remaining: 0, sold: 1050, held: 0, paid: 0, released: 0, acceptedOrders: 1050 },
      outbox: { pending: 0 },
      kafka: { messages: 1050, distinctOrders: 1050, statuses: 0, distinctStatuses: 0 },
      postgres: {
        orders: 1050,
        units: 1050,
        byStatus: { accepted: 1050, held: 0, paid: 0, expired: 0, cancelled: 0 },
        initialStock: 1000,
        addedStock: 50,
        stock: 0,
      },
      oversold: 0,
      lost: 0,
      duplicates: 0,
      stockConsistent: true,
      holds: { redisBalanced: true, heldAgrees: true, paidAndReleased: 0, statusMismatches: 0 },
      latencyMs: null,
    },
    bots: {
      requests: 0,
      byKind: Object.fromEntries(botKinds.map((k) => [k, {}])) as DemoRun["bots"]["byKind"],
      bought: 0,
      refused: 0,
      errors: 0,
      errorSamples: [],
      unitsBought: 0,
      redisCommands: 0,
      saleRedisCommands: 0,
    },
  };
}

describe("the demo's report of the operator's controls", () => {
  it("shades the pause on the accepted/s chart, marks the restock, and names both in its tables", () => {
    const html = renderDemoReport(demoRun(steered));
    const throughput = html.slice(html.indexOf("<figcaption>Throughput by outcome"), html.indexOf("</figure>", html.indexOf("Throughput by outcome")));
    // 4.0 s to 7.1 s of a 20 s axis 688 px wide from x = 56.
    expect(throughput).toMatch(/<rect x="193\.6" y="28" width="106\.6"[^>]*><title>paused 3\.1 s<\/title>/);
    expect(throughput).toContain("restocked +50 by &quot;demo&quot;");
    expect(throughput).not.toContain("sale paused by");
    expect(html).toContain("Nothing was accepted while paused");
    expect(html).toContain("50 of 50 sold: 48 to people already in line, 2 to newcomers");
    const [header, [row]] = outcomeTable(demoRun(steered, 10));
    expect(row![header.indexOf("accepted while paused")]).toBe(0);
  });

  it("fails the demo for an order accepted while paused, a restock that did not happen, or a control missing from PostgreSQL", () => {
    expect(steeringClean(steered)).toBe(true);
    expect(steeringClean({ ...steered, pause: { ...steered.pause!, acceptedWhilePaused: 1 } })).toBe(false);
    expect(steeringClean({ ...steered, pause: undefined })).toBe(false);
    expect(steeringClean({ ...steered, restock: undefined })).toBe(false);
    expect(steeringClean({ ...steered, problems: ['the pause (version 1) is not in PostgreSQL\'s sale_events as by "demo"'] })).toBe(false);
    const html = renderDemoReport(demoRun({ ...steered, pause: { ...steered.pause!, acceptedWhilePaused: 2 } }, 10));
    expect(html).toContain('<span class="bad">NOT AS IT SHOULD BE</span>');
    expect(controlsTable(demoRun({ problems: [] }, 10))[1]).toEqual([
      ["pause", "-", "never paused", "-"],
      ["restock", "-", "never restocked", "-"],
    ]);
  });
});

describe("the demo's holds", () => {
  const t0 = 1_000_000;
  // Three holds: one paid, two expired; the units of the expiries bought again 300 ms and 1.2 s later.
  const accepted = [
    { status: "paid", quantity: 1, at: t0 + 100 },
    { status: "expired", quantity: 1, at: t0 + 200 },
    { status: "expired", quantity: 1, at: t0 + 300 },
    { status: "paid", quantity: 1, at: t0 + 4_500 },
    { status: "paid", quantity: 1, at: t0 + 5_400 },
  ];
  const ends = [
    { orderId: "a", status: "paid", quantity: 1, at: t0 + 900 },
    { orderId: "b", status: "expired", quantity: 1, at: t0 + 4_200 },
    { orderId: "c", status: "expired", quantity: 1, at: t0 + 4_200 },
    { orderId: "d", status: "paid", quantity: 1, at: t0 + 5_000 },
    { orderId: "e", status: "paid", quantity: 1, at: t0 + 6_000 },
  ];

  it("gives each expiry the next acceptance after it, once, and the held level per second", () => {
    const h = holdHistory(accepted, ends, t0);
    expect(h.rebuyMs).toMatchObject({ count: 2, max: 1_200, unmatched: 0 });
    expect(h.perSecond.map((s) => s.held)).toEqual([2, 2, 2, 2, 1, 1, 0]);
    expect(h.perSecond[4]).toMatchObject({ expired: 2, paid: 0 });
    expect(h.orders).toEqual({ held: 0, paid: 3, expired: 2, cancelled: 0 });
    // An expiry with no order after it: a unit nobody bought again.
    expect(holdHistory(accepted.slice(0, 3), ends.slice(0, 3), t0).rebuyMs).toMatchObject({ count: 0, unmatched: 2 });
  });

  it("fails the demo for a unit both paid and released, or one not paid for at the end", () => {
    const history = holdHistory(accepted, ends, t0);
    const withHolds = (redis: Partial<DemoRun["audit"]["redis"]>, paidAndReleased = 0): DemoRun => {
      const run = demoRun(steered, 10);
      return {
        ...run,
        settings: { ...run.settings, holdSeconds: 4, noShow: 0.2 },
        audit: { ...run.audit, redis: { ...run.audit.redis, ...redis }, holds: { ...run.audit.holds, paidAndReleased } },
        holds: {
          ...history,
          shop: { holds: 5, noShows: 2, paid: 3, toldExpired: 0, failed: 0, failures: [] },
          latecomers: { waves: 0, people: 0, bought: 0, unitsLeft: 0, heldLeft: 0 },
        },
      };
    };
    const sold = withHolds({ initial: 1000, added: 50, remaining: 0, held: 0, paid: 1050, released: 2 });
    expect(holdsVerdict(sold)).toEqual({ ok: true, problems: [] });
    expect(renderDemoReport(sold)).toContain("Held, paid and expired per second");
    expect(holdsVerdict(withHolds({ initial: 1000, added: 50, remaining: 0, held: 0, paid: 1050, released: 2 }, 1)).problems).toEqual([
      "1 orders both paid and released",
    ]);
    expect(holdsVerdict(withHolds({ initial: 1000, added: 50, remaining: 3, held: 1, paid: 1046, released: 2 })).problems).toEqual([
      "4 of 1050 units not sold to people who paid (3 free, 1 held)",
    ]);
  });
});
