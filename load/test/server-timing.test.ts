import { describe, expect, it } from "vitest";
import { edgeMsOf } from "../src/bench/server-timing";

describe("edgeMsOf", () => {
  it("reads the edge's metric, among others and in repeated headers", () => {
    expect(edgeMsOf("edge;dur=12")).toBe(12);
    expect(edgeMsOf("cdn-cache;desc=MISS, edge;dur=3.5")).toBe(3.5);
    expect(edgeMsOf(["cfRequestDuration;dur=40", 'edge;desc="gate";dur=7'])).toBe(7);
  });

  it("is undefined when the edge did not say (an older edge, another server)", () => {
    expect(edgeMsOf(undefined)).toBeUndefined();
    expect(edgeMsOf("total;dur=9")).toBeUndefined();
    expect(edgeMsOf("edge")).toBeUndefined();
  });
});
