import { ensureDevVars } from "@fluxgate/stack";
import { beforeEach, describe, expect, inject, it } from "vitest";
import * as scenarios from "../scenarios.js";
import type {} from "../../stack/test/global-setup";
import { plannedIterations, reset, type ScenarioOptions, state, thresholdHolds } from "./k6-shim/runtime";

/**
 * Runs the k6 scripts (load/k6/*.js) against the local stack's edge through a small k6 shim
 * (test/k6-shim/), scaled down: proof that their flows, counters and thresholds do what they
 * claim — a clean sale passes, and an oversell would fail the run.
 */
const adminToken = ensureDevVars().get("ADMIN_TOKEN")!;

interface K6Script {
  options: { maxRedirects?: number; thresholds: Record<string, string[]>; scenarios: Record<string, ScenarioOptions> };
  setup(): { productId: string };
  default(data: { productId: string }): void;
  teardown(data: { productId: string }): void;
}

let runs = 0;

/** Runs `iterations` iterations, or as many as the script's scenarios would start (plannedIterations). */
async function runK6(file: string, iterations: number | undefined, vus: number, powDifficulty = 0) {
  const g = globalThis as Record<string, unknown>;
  const stack = inject("stack");
  g.__ENV = {
    BASE_URL: stack.edge.url,
    ADMIN_TOKEN: adminToken,
    TOKEN_URL: `${stack.issuer.url}/token`,
    POW_DIFFICULTY: String(powDifficulty),
    RUN_ID: `${file}-${Date.now().toString(36)}`,
  };
  // A fresh module per run (k6 evaluates a script once per run): its sale is its own, never the last run's.
  const script = (await import(`../k6/${file}?run=${runs++}`)) as K6Script;
  state.maxRedirects = script.options.maxRedirects ?? 10;
  const data = script.setup();
  const planned = iterations ?? Object.values(script.options.scenarios).reduce((sum, scenario) => sum + plannedIterations(scenario), 0);
  for (let i = 0; i < planned; i++) {
    g.__VU = (i % vus) + 1;
    g.__ITER = Math.floor(i / vus);
    script.default(data);
  }
  script.teardown(data);
  const failedThresholds = Object.entries(script.options.thresholds).flatMap(([metric, expressions]) =>
    expressions.filter((e) => !thresholdHolds(metric, e)).map((e) => `${metric}: ${e}`),
  );
  return { data, failedThresholds, script, iterations: planned };
}

describe("the k6 scripts, through a k6 shim against the local edge", { timeout: 120_000 }, () => {
  beforeEach(() => reset());

  it("flood: every answer is 200, 302 or 409, never more 200s than units; the thresholds pass", async () => {
    Object.assign(scenarios.flood, { stock: 5, buyers: 25, vus: 5, ratePerSecond: 1000 });
    const { failedThresholds } = await runK6("flood.js", 25, 5);
    expect(state.checks.failed).toEqual([]);
    expect(state.counters.get("orders_accepted")).toBe(5);
    expect(state.counters.get("server_errors")).toBe(0);
    expect(failedThresholds).toEqual([]);
  });

  it("crowd: buyers follow the 302, poll the waiting room, buy when admitted and stop on sold out", async () => {
    Object.assign(scenarios.crowd, { stock: 3, buyers: 6, vus: 2, ratePerSecond: 2, arrivalSeconds: 0, pollSeconds: 0.2 });
    const { failedThresholds } = await runK6("crowd.js", 6, 2);
    expect(state.checks.failed).toEqual([]);
    expect(state.counters.get("orders_accepted")).toBe(3);
    expect(state.counters.get("orders_sold_out")).toBe(3);
    expect(failedThresholds).toEqual([]);
  });

  it("flood with proof of work: each signed-in buyer solves the sale's challenge and buys", async () => {
    Object.assign(scenarios.flood, { stock: 4, buyers: 8, vus: 4, ratePerSecond: 1000 });
    const { failedThresholds } = await runK6("flood.js", 8, 4, 10);
    expect(state.checks.failed).toEqual([]);
    expect(state.counters.get("orders_accepted")).toBe(4);
    expect(failedThresholds).toEqual([]);
  });

  it("spike: an open arrival spike of new buyers, each with one attempt; exactly the stock sold, the thresholds pass", async () => {
    // 0 → 4 arrivals/s in 2 s, 4/s for 3 s, back to 0 in 2 s: 4 + 12 + 4 = 20 buyers for 5 units.
    Object.assign(scenarios.spike, { stock: 5, ratePerSecond: 1000, peakPerSecond: 4, rampSeconds: 2, holdSeconds: 3, preAllocatedVUs: 2, maxVUs: 4 });
    const { failedThresholds, script, iterations } = await runK6("spike.js", undefined, 4);
    expect(script.options.scenarios.spike?.executor).toBe("ramping-arrival-rate");
    expect(iterations).toBe(20);
    expect(state.checks.failed).toEqual([]);
    expect(state.counters.get("orders_accepted")).toBe(5);
    expect(state.counters.get("server_errors")).toBe(0);
    expect(failedThresholds).toEqual([]);
  });

  it("the oversell threshold fails a run that got more 200s than units", () => {
    state.counters.set("orders_accepted", 6);
    expect(thresholdHolds("orders_accepted", "count<=5")).toBe(false);
    state.counters.set("server_errors", 1);
    expect(thresholdHolds("server_errors", "count==0")).toBe(false);
  });
});
