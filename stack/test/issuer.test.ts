import { execFileSync } from "node:child_process";
import { verifyWithJwks } from "hono/jwt";
import { describe, expect, inject, it } from "vitest";
import { repoRoot } from "../src/home";

describe("the dev identity issuer (a stand-in for the shop's login)", () => {
  const stack = inject("stack");

  it("publishes ES256 keys and mints tokens the edge can verify against them", async () => {
    const jwks = (await (await fetch(stack.issuer.jwksUrl)).json()) as { keys: { kid: string; alg: string; d?: string }[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ alg: "ES256", kid: expect.any(String) });
      expect(key.d, "a private key part in the JWKS").toBeUndefined();
    }
    const res = await fetch(`${stack.issuer.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sub: "alice" }),
    });
    const { token } = (await res.json()) as { token: string };
    const payload = await verifyWithJwks(token, {
      jwks_uri: stack.issuer.jwksUrl,
      allowedAlgorithms: ["ES256"],
      verification: { iss: stack.issuer.url, aud: stack.issuer.audience },
    });
    expect(payload).toMatchObject({ sub: "alice", iss: stack.issuer.url, aud: stack.issuer.audience });
    expect(Number(payload.exp)).toBeGreaterThan(Date.now() / 1000);
  });

  it("npm run token -- <userId> prints a token for that buyer", () => {
    const out = execFileSync("npm", ["run", "--silent", "token", "--", "bob"], { cwd: repoRoot, encoding: "utf8", env: process.env }).trim();
    const [, payload] = out.split(".");
    expect(JSON.parse(Buffer.from(payload!, "base64url").toString("utf8"))).toMatchObject({ sub: "bob", iss: stack.issuer.url });
  });

  it("refuses a request that names no valid buyer", async () => {
    const res = await fetch(`${stack.issuer.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sub: "" }),
    });
    expect(res.status).toBe(400);
  });
});
