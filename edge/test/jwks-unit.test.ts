/**
 * The JWKS cache against a fake issuer and a clock the test moves: what the issuer sees (how many
 * fetches) while tokens name unknown kids and while it is down or slow.
 */
import { describe, expect, it } from "vitest";
import { type FetchJwks, JWKS_REFETCH_MS, JwksCache, JwksUnavailable, UnknownKey } from "../src/identity/jwks";

const URL = "https://issuer.example/.well-known/jwks.json";

async function publicJwk(kid: string): Promise<JsonWebKey & { kid: string; alg: string }> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  return { ...((await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey), kid, alg: "ES256" };
}

/** An issuer whose behaviour the test switches, counting the fetches it receives. */
function fakeIssuer() {
  const issuer = {
    fetches: 0,
    mode: "up" as "up" | "down" | "hang",
    keys: [] as JsonWebKey[],
    fetch: (async (_url, init) => {
      issuer.fetches++;
      if (issuer.mode === "down") throw new TypeError("connection refused");
      if (issuer.mode === "hang") {
        return new Promise<Response>((_, reject) => init.signal?.addEventListener("abort", () => reject(init.signal?.reason)));
      }
      return Response.json({ keys: issuer.keys });
    }) as FetchJwks,
  };
  return issuer;
}

function clock() {
  const c = { t: 1_000_000, now: () => c.t };
  return c;
}

describe("the JWKS cache", () => {
  it("fetches once for many requests naming a known kid", async () => {
    const issuer = fakeIssuer();
    issuer.keys = [await publicJwk("k1")];
    const cache = new JwksCache(clock().now, issuer.fetch);
    const results = await Promise.all(Array.from({ length: 50 }, () => cache.keysFor(URL, "k1")));
    expect(results.every((keys) => keys.length === 1)).toBe(true);
    expect(issuer.fetches).toBe(1);
  });

  it("refetches for unknown kids at most once a second", async () => {
    const issuer = fakeIssuer();
    issuer.keys = [await publicJwk("k1")];
    const time = clock();
    const cache = new JwksCache(time.now, issuer.fetch);
    await cache.keysFor(URL, "k1");
    for (let i = 0; i < 200; i++) await expect(cache.keysFor(URL, `made-up-${i}`)).rejects.toBeInstanceOf(UnknownKey);
    expect(issuer.fetches).toBe(1);
    // A real rotation is seen once the window has passed.
    issuer.keys = [await publicJwk("k2")];
    time.t += JWKS_REFETCH_MS;
    expect(await cache.keysFor(URL, "k2")).toHaveLength(1);
    expect(issuer.fetches).toBe(2);
  });

  it("backs off after a failure: one fetch a second while the issuer is down, each request answered at once", async () => {
    const issuer = fakeIssuer();
    issuer.mode = "down";
    const time = clock();
    const cache = new JwksCache(time.now, issuer.fetch);
    // 10 seconds of a crowd: 100 requests every 100 ms.
    for (let step = 0; step < 100; step++) {
      for (let i = 0; i < 100; i++) await expect(cache.keysFor(URL, "k1")).rejects.toBeInstanceOf(JwksUnavailable);
      time.t += 100;
    }
    expect(issuer.fetches).toBeLessThanOrEqual(10);
    expect(issuer.fetches).toBeGreaterThanOrEqual(9);

    // Back up: the next fetch after the window succeeds and the failure is forgotten.
    issuer.mode = "up";
    issuer.keys = [await publicJwk("k1")];
    time.t += JWKS_REFETCH_MS;
    expect(await cache.keysFor(URL, "k1")).toHaveLength(1);
  });

  it("keeps verifying known kids with the keys it has while the issuer is down", async () => {
    const issuer = fakeIssuer();
    issuer.keys = [await publicJwk("k1")];
    const time = clock();
    const cache = new JwksCache(time.now, issuer.fetch);
    await cache.keysFor(URL, "k1");
    issuer.mode = "down";
    time.t += JWKS_REFETCH_MS;
    await expect(cache.keysFor(URL, "rotated")).rejects.toBeInstanceOf(JwksUnavailable);
    expect(await cache.keysFor(URL, "k1")).toHaveLength(1);
    await expect(cache.keysFor(URL, "rotated")).rejects.toBeInstanceOf(JwksUnavailable);
    expect(issuer.fetches).toBe(2);
  });

  it("gives up on a slow issuer after its timeout, with one fetch for every request waiting, then backs off", async () => {
    const issuer = fakeIssuer();
    issuer.mode = "hang";
    const time = clock();
    const cache = new JwksCache(time.now, issuer.fetch, 50);
    const started = Date.now();
    const waiting = await Promise.allSettled(Array.from({ length: 20 }, () => cache.keysFor(URL, "k1")));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(waiting.every((r) => r.status === "rejected" && r.reason instanceof JwksUnavailable)).toBe(true);
    expect(issuer.fetches).toBe(1);
    await expect(cache.keysFor(URL, "k1")).rejects.toBeInstanceOf(JwksUnavailable);
    expect(issuer.fetches).toBe(1);
  });
});
