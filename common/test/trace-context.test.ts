import { describe, expect, it } from "vitest";
import { childSpan, formatTraceparent, parseTraceparent, TRACEPARENT_LENGTH } from "../src";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";
const VALID = `00-${TRACE}-${SPAN}-01`;

describe("parseTraceparent", () => {
  it("reads a version-00 traceparent (the W3C example)", () => {
    expect(parseTraceparent(VALID)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: false });
    // Only the sampled bit is defined in version 00: the others are not passed on.
    expect(formatTraceparent(parseTraceparent(`00-${TRACE}-${SPAN}-ff`)!)).toBe(VALID);
  });

  it.each([
    ["absent", undefined],
    ["empty", ""],
    ["another version", `01-${TRACE}-${SPAN}-01`],
    ["the forbidden version ff", `ff-${TRACE}-${SPAN}-01`],
    ["version 00 with more fields", `${VALID}-extra`],
    ["uppercase hex", `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ["an all-zero trace id", `00-${"0".repeat(32)}-${SPAN}-01`],
    ["an all-zero span id", `00-${TRACE}-${"0".repeat(16)}-01`],
    ["a short trace id", `00-${TRACE.slice(1)}-${SPAN}-01`],
    ["surrounding spaces", ` ${VALID}`],
    ["a line break inside", `00-${TRACE.slice(0, 31)}\n-${SPAN}-01`],
    ["a JSON breaker of the right length", `00-${TRACE.slice(0, 30)}"}-${SPAN}-01`],
    ["a Lua breaker of the right length", `00-${TRACE.slice(0, 30)}']-${SPAN}-01`],
    ["a megabyte", "0".repeat(1 << 20)],
  ])("refuses %s", (_, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  it("looks at nothing longer than a traceparent can be", () => {
    // A header of a million characters is refused by its length, before any pattern runs over it.
    const huge = `${VALID}${" ".repeat(1 << 20)}`;
    const started = performance.now();
    for (let i = 0; i < 1000; i++) expect(parseTraceparent(huge)).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(200);
    expect(VALID).toHaveLength(TRACEPARENT_LENGTH);
  });
});

describe("childSpan", () => {
  it("continues the caller's trace with a span of its own, keeping its sampled flag", () => {
    const parent = parseTraceparent(`00-${TRACE}-${SPAN}-00`)!;
    const child = childSpan(parent);
    expect(child.traceId).toBe(TRACE);
    expect(child.sampled).toBe(false);
    expect(child.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(child.spanId).not.toBe(SPAN);
  });

  it("starts a new, sampled trace when there is none to continue, and what it prints reads back the same", () => {
    const ids = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const span = childSpan(undefined);
      expect(span.sampled).toBe(true);
      expect(parseTraceparent(formatTraceparent(span))).toEqual(span);
      ids.add(span.traceId);
    }
    expect(ids.size).toBe(100);
  });
});
