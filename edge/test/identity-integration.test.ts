import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { createEdge } from "../src/index";
import { Isolate } from "../src/isolate";
import { ADMIN, call, countRedisCommands, initSale, mint, order, sale, signedIn, tokenFor, uniqueProduct, withBindings } from "./helpers";

type Refusal = { error: string; problem: string };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const devToken = async (body: Record<string, unknown>) => String((await mint("/token", body)).token);

/** A refused attempt: 401 naming the problem, no Redis command, nothing sold. */
async function expectRefused(productId: string, send: () => Promise<Response>, problem: string) {
  const before = await sale(productId);
  const { result: res, commands } = await countRedisCommands(send);
  expect(res.status).toBe(401);
  expect(await res.json<Refusal>()).toMatchObject({ problem });
  expect(commands).toBe(0);
  expect(await sale(productId)).toEqual(before);
}

/** The edge's fetches of the issuer's JWKS while `fn` runs. */
const countJwksFetches = <T>(fn: () => Promise<T>) => countRedisCommands(fn).then(({ result, jwksFetches }) => ({ result, fetches: jwksFetches }));

describe("identity from the issuer's JWKS (ES256, the stack's dev issuer)", { timeout: 30_000 }, () => {
  it("verifies a buyer's token once per isolate: a buyer who polls is not checked with ES256 again", async () => {
    const productId = uniqueProduct("id-once");
    await initSale({ productId, quantity: 0 });
    const edge = createEdge(new Isolate());
    const headers = { "content-type": "application/json", ...(await signedIn("poller")) };
    const send = async () => {
      const ctx = createExecutionContext();
      const res = await edge.fetch(
        new Request("http://edge/order", {
          method: "POST",
          headers: { ...headers, "idempotency-key": crypto.randomUUID() },
          body: JSON.stringify({ productId }),
        }),
        env,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return res;
    };
    const verify = vi.spyOn(crypto.subtle, "verify");
    try {
      for (let i = 0; i < 5; i++) expect((await send()).status).toBe(409);
      const es256 = verify.mock.calls.filter(([algorithm]) => typeof algorithm === "object" && algorithm.name === "ECDSA");
      expect(es256).toHaveLength(1);
      // Another isolate has not seen it: it verifies the token itself.
      const other = createEdge(new Isolate());
      const ctx = createExecutionContext();
      await other.fetch(
        new Request("http://edge/order", { method: "POST", headers: { ...headers, "idempotency-key": "k" }, body: JSON.stringify({ productId }) }),
        env,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      expect(verify.mock.calls.filter(([algorithm]) => typeof algorithm === "object" && algorithm.name === "ECDSA")).toHaveLength(2);
    } finally {
      verify.mockRestore();
    }
  });

  it("a valid token buys as its sub; the body's userId may be left out", async () => {
    const productId = uniqueProduct("id-valid");
    await initSale({ productId, quantity: 3 });
    const res = await order({ productId }, { as: "alice" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "accepted", userId: "alice" });
  });

  it("refuses a missing, malformed, expired, wrong-audience or wrong-issuer token with a 401 that says which, at no Redis cost", async () => {
    const productId = uniqueProduct("id-refused");
    await initSale({ productId, quantity: 3 });
    const body = { productId };
    await expectRefused(productId, () => order(body, { as: null }), "missing_token");
    await expectRefused(productId, () => order(body, { as: null, headers: bearer("not.a.token") }), "invalid_token");
    const valid = await tokenFor("mallory");
    const tampered = valid.replace(/\.[^.]+$/, (sig) => `.${sig.slice(1, 2) === "A" ? "B" : "A"}${sig.slice(2)}`);
    const [header, payload, signature] = valid.split(".");
    const claims = JSON.parse(atob(payload!.replaceAll("-", "+").replaceAll("_", "/"))) as Record<string, unknown>;
    const otherSub = btoa(JSON.stringify({ ...claims, sub: "root" }))
      .replaceAll("+", "-")
      .replaceAll("/", "_")
      .replace(/=+$/, "");
    await expectRefused(productId, () => order(body, { as: null, headers: bearer(`${header}.${otherSub}.${signature}`) }), "invalid_token");
    await expectRefused(productId, () => order(body, { as: null, headers: bearer(tampered) }), "invalid_token");
    const expired = await devToken({ sub: "late", ttlSeconds: -60 });
    await expectRefused(productId, () => order(body, { as: null, headers: bearer(expired) }), "expired_token");
    const elsewhere = await devToken({ sub: "elsewhere", aud: "another-shop" });
    await expectRefused(productId, () => order(body, { as: null, headers: bearer(elsewhere) }), "wrong_audience");
    await withBindings({ JWT_ISSUER: "https://login.another-shop.example" }, () =>
      expectRefused(productId, () => order(body, { as: "alice" }), "wrong_issuer"),
    );
  });

  it("reads the JWKS once per isolate, refreshes it for a rotated key, and refuses a key it does not publish", async () => {
    const productId = uniqueProduct("id-keys");
    await initSale({ productId, quantity: 10 });
    expect((await order({ productId }, { as: "warm" })).status).toBe(200);
    const cached = await countJwksFetches(() => Promise.all(["k1", "k2", "k3"].map((sub) => order({ productId }, { as: sub }).then((r) => r.status))));
    expect(cached).toEqual({ result: [200, 200, 200], fetches: 0 });

    // The shop rotates its signing key: the first token with the new kid makes the edge look again.
    await sleep(1_100);
    await mint("/rotate");
    const rotated = await countJwksFetches(async () => (await order({ productId }, { as: null, headers: bearer(await devToken({ sub: "rotated" })) })).status);
    expect(rotated).toEqual({ result: 200, fetches: 1 });

    // A key the issuer never published: one more look, then 401 unknown_key.
    const stranger = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const jwk = { ...((await crypto.subtle.exportKey("jwk", stranger.privateKey)) as JsonWebKey), kid: "stranger", alg: "ES256" };
    const now = Math.floor(Date.now() / 1000);
    const forged = await sign({ sub: "alice", iss: env.JWT_ISSUER, aud: env.JWT_AUDIENCE, iat: now, exp: now + 600 }, jwk, "ES256");
    await sleep(1_100);
    await expectRefused(productId, () => order({ productId }, { as: null, headers: bearer(forged) }), "unknown_key");
    await sleep(1_100);
    const unknown = await countJwksFetches(async () => (await order({ productId }, { as: null, headers: bearer(forged) })).status);
    expect(unknown).toEqual({ result: 401, fetches: 1 });
    // Made-up kids in a burst cost the issuer nothing more.
    const burst = await countJwksFetches(() =>
      Promise.all(Array.from({ length: 20 }, () => order({ productId }, { as: null, headers: bearer(forged) }).then((r) => r.status))),
    );
    expect(burst).toEqual({ result: Array(20).fill(401), fetches: 0 });
  });

  it("takes the token from the JWT_COOKIE cookie when there is no Authorization header", async () => {
    const productId = uniqueProduct("id-cookie");
    await initSale({ productId, quantity: 3 });
    const res = await order({ productId }, { as: null, headers: { cookie: `${env.JWT_COOKIE}=${await tokenFor("browser")}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ userId: "browser" });
  });
});

describe("identity with a shared HS256 secret", { timeout: 30_000 }, () => {
  const secret = "the-shop-and-the-edge-share-this-secret";
  const hs = { JWT_JWKS_URL: "", JWT_SECRET: secret } as Partial<Env>;
  const hsToken = (claims: Record<string, unknown>, key = secret) => {
    const now = Math.floor(Date.now() / 1000);
    return sign({ iss: env.JWT_ISSUER, aud: env.JWT_AUDIENCE, iat: now, exp: now + 600, ...claims }, key, "HS256");
  };

  it("buys with a valid token and refuses expired, wrong-issuer, wrong-audience and wrongly signed ones", async () => {
    const productId = uniqueProduct("id-hs");
    await initSale({ productId, quantity: 3 });
    await withBindings(hs, async () => {
      const ok = await order({ productId, userId: "hs-buyer" }, { as: null, headers: bearer(await hsToken({ sub: "hs-buyer" })) });
      expect(ok.status).toBe(200);
      const body = { productId };
      await expectRefused(productId, () => order(body, { as: null, headers: bearer("") }), "invalid_token");
      await expectRefused(
        productId,
        async () => order(body, { as: null, headers: bearer(await hsToken({ sub: "x", exp: Math.floor(Date.now() / 1000) - 5 })) }),
        "expired_token",
      );
      await expectRefused(
        productId,
        async () => order(body, { as: null, headers: bearer(await hsToken({ sub: "x", iss: "https://evil.example" })) }),
        "wrong_issuer",
      );
      await expectRefused(productId, async () => order(body, { as: null, headers: bearer(await hsToken({ sub: "x", aud: "other" })) }), "wrong_audience");
      await expectRefused(productId, async () => order(body, { as: null, headers: bearer(await hsToken({ sub: "x" }, "a-guessed-secret")) }), "invalid_token");
      // A JWKS-signed token (ES256) is no good where the shop signs with HS256.
      await expectRefused(productId, async () => order(body, { as: "alice" }), "invalid_token");
    });
  });
});

describe("everything a buyer holds is bound to the token's sub", { timeout: 30_000 }, () => {
  it("a body naming someone else is a 403 and changes nothing", async () => {
    const productId = uniqueProduct("id-other");
    await initSale({ productId, quantity: 3 });
    const { result: res, commands } = await countRedisCommands(() => order({ productId, userId: "bob" }, { as: "alice" }));
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ problem: "not_your_user" });
    expect(commands).toBe(0);
    expect(await sale(productId)).toMatchObject({ remaining: 3 });
  });

  it("the per-user limit holds across many Idempotency-Keys of one sub", async () => {
    const productId = uniqueProduct("id-limit");
    await initSale({ productId, quantity: 50, perUserLimit: 2 });
    const statuses = await Promise.all(
      Array.from({ length: 25 }, () =>
        order({ productId }, { as: "one-person" }).then(async (r) => `${r.status} ${(await r.json<{ status: string }>()).status}`),
      ),
    );
    expect(statuses.filter((s) => s === "200 accepted")).toHaveLength(2);
    expect(statuses.filter((s) => s === "409 limit_reached")).toHaveLength(23);
    expect(await sale(productId)).toMatchObject({ sold: 2 });
  });

  it("a queue ticket is useless to another sub, for ordering and for the waiting room", async () => {
    const productId = uniqueProduct("id-ticket");
    await initSale({ productId, quantity: 10, ratePerSecond: 0.01, burst: 1 });
    expect((await order({ productId }, { as: "first" })).status).toBe(200);
    const queued = await order({ productId }, { as: "owner" });
    expect(queued.status).toBe(302);
    const { ticket } = await queued.json<{ ticket: string }>();

    const borrowed = await order({ productId }, { as: "thief", ticket });
    expect(borrowed.status).toBe(403);
    expect(await borrowed.json()).toMatchObject({ status: "invalid_ticket" });
    const peek = await call(`/waiting-room/status?productId=${productId}`, { headers: { ...(await signedIn("thief")), "x-queue-ticket": ticket } });
    expect(peek.status).toBe(403);
    const own = await call(`/waiting-room/status?productId=${productId}`, { headers: { ...(await signedIn("owner")), "x-queue-ticket": ticket } });
    expect(own.status).toBe(200);
    expect(await own.json()).toMatchObject({ state: "waiting" });
    const anonymous = await call(`/waiting-room/status?productId=${productId}&userId=owner`, { headers: { "x-queue-ticket": ticket } });
    expect(anonymous.status).toBe(401);
  });
});

describe("IDENTITY=anonymous (local experiments only)", { timeout: 30_000 }, () => {
  it("takes the body's userId without a token, and says so on /health", async () => {
    const productId = uniqueProduct("id-anon");
    await initSale({ productId, quantity: 3 });
    await withBindings({ IDENTITY: "anonymous" }, async () => {
      expect((await order({ productId, userId: "whoever" }, { as: null })).status).toBe(200);
      const missing = await order({ productId }, { as: null });
      expect(missing.status).toBe(400);
      const health = await call("/health", { headers: ADMIN });
      expect(await health.json()).toMatchObject({ identity: { mode: "anonymous", warning: expect.stringContaining("anonymous") } });
    });
    const health = await call("/health", { headers: ADMIN });
    expect(await health.json()).toMatchObject({ identity: { mode: "jwt", issuer: env.JWT_ISSUER } });
  });
});
