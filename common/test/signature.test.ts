import { describe, expect, it } from "vitest";
import { signRequest, verifyRequest, type SignedRequest } from "../src";

describe("request signatures", () => {
  const secret = "a-secret-of-some-length";
  const request: SignedRequest = { method: "POST", path: "/orders", outboxId: "1800000000000-0", body: '{"orderId":"o1"}' };
  const now = 1_800_000_000_000;

  it("verifies what was signed with the same secret", async () => {
    const sig = await signRequest(secret, now, request);
    expect(await verifyRequest(secret, String(now), sig, request, now)).toBe(true);
  });

  it.each([
    ["another body", { request: { ...request, body: '{"orderId":"o2"}' } }],
    ["another outbox id", { request: { ...request, outboxId: "1800000000000-1" } }],
    ["no outbox id", { request: { ...request, outboxId: undefined } }],
    ["another path", { request: { ...request, path: "/orders/x" } }],
    ["another method", { request: { ...request, method: "PUT" } }],
    ["another secret", { secret: "another-secret-entirely" }],
    ["a stale timestamp", { now: now + 301_000 }],
    ["another timestamp", { timestamp: String(now + 1) }],
    ["a signature that is not hex", { signature: "zz" }],
  ])("refuses %s", async (_, patch: { request?: SignedRequest; secret?: string; now?: number; timestamp?: string; signature?: string }) => {
    const sig = await signRequest(secret, now, request);
    const ok = await verifyRequest(patch.secret ?? secret, patch.timestamp ?? String(now), patch.signature ?? sig, patch.request ?? request, patch.now ?? now);
    expect(ok).toBe(false);
  });
});
