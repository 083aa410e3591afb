import { describe, expect, it } from "vitest";
import { ADMIN, call, uniqueProduct } from "./helpers";

describe("what another site may do with the edge's answers", () => {
  it.each([
    ["the waiting room's page", "/waiting-room?productId=p", {}],
    ["the operator's page", "/admin", {}],
    ["the operator's figures", `/admin/sales/${uniqueProduct()}`, ADMIN],
    ["a refused order", "/order", {}],
    ["/health", "/health", {}],
    ["an unknown path", "/nope", {}],
  ])("%s: never framed, and no referrer sent on", async (_, path, headers) => {
    const res = await call(path, { headers });
    await res.body?.cancel();
    expect(res.headers.get("content-security-policy")).toBe("frame-ancestors 'none'");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    // Browsers without CSP level 2 honour this one.
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    // A shop on another origin may still read what /order answers.
    expect(res.headers.get("cross-origin-resource-policy")).toBeNull();
  });
});
