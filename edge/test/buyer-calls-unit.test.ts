import { describe, expect, it } from "vitest";
import { BuyerCalls } from "../src/purchase/buyer-calls";
import { GATE_SEAT_STALE_MS } from "../src/time-windows";

describe("BuyerCalls (one isolate)", () => {
  it("gives a buyer one gate call at a time per sale, frees it when the call reports back, or when it went stale", () => {
    let now = 1_000;
    const calls = new BuyerCalls(() => now);
    const done = calls.take("p", "scalper");
    expect(done).toBeDefined();
    expect(calls.take("p", "scalper")).toBeUndefined();
    // Another buyer, or the same buyer in another sale, is not held up.
    expect(calls.take("p", "honest")).toBeDefined();
    expect(calls.take("q", "scalper")).toBeDefined();
    done!();
    expect(calls.take("p", "scalper")).toBeDefined();
    now += GATE_SEAT_STALE_MS;
    expect(calls.take("p", "scalper")).toBeDefined();
  });
});
