import { describe, expect, it } from "vitest";
import { signBody, verifyBody } from "../src";

describe("body signatures", () => {
  const secret = "a-secret-of-some-length";
  const body = '{"orderId":"o1"}';
  const now = 1_800_000_000_000;

  it("verifies what was signed with the same secret", async () => {
    const sig = await signBody(secret, now, body);
    expect(await verifyBody(secret, String(now), body, sig, now)).toBe(true);
  });

  it.each([
    ["another body", { body: '{"orderId":"o2"}' }],
    ["another secret", { secret: "another-secret-entirely" }],
    ["a stale timestamp", { now: now + 301_000 }],
    ["another timestamp", { timestamp: String(now + 1) }],
    ["a signature that is not hex", { signature: "zz" }],
  ])("refuses %s", async (_, patch: { body?: string; secret?: string; now?: number; timestamp?: string; signature?: string }) => {
    const sig = await signBody(secret, now, body);
    const ok = await verifyBody(patch.secret ?? secret, patch.timestamp ?? String(now), patch.body ?? body, patch.signature ?? sig, patch.now ?? now);
    expect(ok).toBe(false);
  });
});
