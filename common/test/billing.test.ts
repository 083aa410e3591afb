import { describe, expect, it } from "vitest";
import { billField, componentOfClient, RedisClients, upstashCostUsd } from "../src/billing";

describe("the bill's accounting", () => {
  it("tells each component's connections apart by name, the relay's from the origin's own", () => {
    expect(componentOfClient(`${RedisClients.edge}-3`)).toBe("edge");
    expect(componentOfClient(`${RedisClients.edge}-dedicated`)).toBe("edge");
    expect(componentOfClient(RedisClients.forward)).toBe("forward");
    expect(componentOfClient(RedisClients.relay)).toBe("relay");
    expect(componentOfClient(`${RedisClients.relay}-read`)).toBe("relay");
    expect(componentOfClient("fluxgate-bench-stats")).toBeUndefined();
    expect(componentOfClient("fluxgate-originator")).toBeUndefined();
  });

  it("prices commands at Upstash pay-as-you-go, and books the origin per minute", () => {
    expect(upstashCostUsd(100_000)).toBeCloseTo(0.2);
    expect(upstashCostUsd(1_100)).toBeCloseTo(0.0022);
    expect(billField("relay", 120_000)).toBe("2:relay");
  });
});
