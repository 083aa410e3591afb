import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("GET /health", () => {
  it("reports the Upstash database and the origin as up", async () => {
    const res = await exports.default.fetch("http://edge/health");
    const body = await res.json<{ service: string; status: string; dependencies: Record<string, { ok: boolean }> }>();
    expect(body.service).toBe("edge");
    expect(body.dependencies.upstash?.ok).toBe(true);
    expect(body.dependencies.origin?.ok).toBe(true);
    expect(res.status).toBe(200);
  });
});
