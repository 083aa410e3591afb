import { env } from "cloudflare:workers";
import { createExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../src/index";

const call = (bindings: Record<string, unknown>, path = "/health", headers: Record<string, string> = {}) =>
  worker.fetch(new Request(`http://edge${path}`, { headers }), bindings as unknown as Env, createExecutionContext());

describe("configuration", () => {
  it.each(["ADMIN_TOKEN", "SHOP_API_TOKEN", "TICKET_SECRET", "ORIGIN_SIGNING_SECRET", "UPSTASH_REDIS_REST_TOKEN"])(
    "a missing %s is a 500 that names it and says how to set it",
    async (name) => {
      const res = await call({ ...env, [name]: undefined });
      expect(res.status).toBe(500);
      const body = await res.json<{ error: string; problems: string[] }>();
      expect(body.error).toBe("misconfigured");
      expect(body.problems.join("\n")).toContain(name);
      expect(body.problems.join("\n")).toContain(`wrangler secret put ${name}`);
    },
  );

  it.each([
    ["an issuer", { JWT_ISSUER: "" }, "JWT_ISSUER"],
    ["an audience", { JWT_AUDIENCE: "" }, "JWT_AUDIENCE"],
    ["a way to check signatures", { JWT_JWKS_URL: "" }, "JWT_JWKS_URL"],
    ["one way only to check signatures", { JWT_SECRET: "s" }, "not both"],
    ["a known IDENTITY", { IDENTITY: "trust-me" }, "IDENTITY"],
  ])("IDENTITY=jwt without %s is a 500 that names what to set", async (_, overrides, named) => {
    const res = await call({ ...env, ...overrides });
    expect(res.status).toBe(500);
    expect((await res.json<{ problems: string[] }>()).problems.join("\n")).toContain(named);
  });

  it("IDENTITY=anonymous needs no issuer", async () => {
    const res = await call({ ...env, IDENTITY: "anonymous", JWT_ISSUER: "", JWT_AUDIENCE: "", JWT_JWKS_URL: "" }, "/health", {
      authorization: `Bearer ${env.ADMIN_TOKEN}`,
    });
    expect(await res.json()).toMatchObject({ identity: { mode: "anonymous" } });
  });

  it("an unknown path is a JSON 404", async () => {
    const res = await call({ ...env }, "/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "not found" });
  });
});
