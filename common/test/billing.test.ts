import { describe, expect, it } from "vitest";
import { billField, billTotalField, componentOfClient, readBookedBill, RedisClients, upstashCostUsd } from "../src/billing";

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

  it("reads the booked bill: minutes of the window and running totals, the ring's slots left out", () => {
    const flat = [billField("forward", 120_000), "4", billField("relay", 120_000), "1", billField("forward", 180_000), "2"];
    flat.push(billTotalField("forward"), "900", billTotalField("relay"), "70", "forward:slot:2", "2", "relay:slot:2", "2");
    const bill = readBookedBill(flat);
    expect(bill.totals).toEqual({ forward: 900, relay: 70 });
    expect([...bill.minutes]).toEqual([
      [2, { forward: 4, relay: 1 }],
      [3, { forward: 2, relay: 0 }],
    ]);
    // ioredis answers HGETALL as an object: the same reading.
    expect(readBookedBill(Object.fromEntries(Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i], flat[2 * i + 1]])))).toEqual(bill);
  });
});
