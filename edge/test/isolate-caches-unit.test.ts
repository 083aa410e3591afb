import { describe, expect, it } from "vitest";
import { CHECKED_SOLUTIONS_MAX, CheckedSolutions } from "../src/challenge/checked-solutions";
import { ExpiringCache } from "../src/expiring-cache";
import { VERIFIED_TOKENS_MAX, VerifiedTokens } from "../src/identity/verified-tokens";

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, tick: (ms: number) => (now += ms) };
}

describe("ExpiringCache", () => {
  it("forgets an entry at its own expiry, and the least recently used one beyond its bound", () => {
    const t = clock();
    const cache = new ExpiringCache<{ v: number }>(2, t.now);
    cache.set("a", { v: 1 }, t.now() + 100);
    cache.set("past", { v: 0 }, t.now());
    expect(cache.get("past")).toBeUndefined();
    cache.set("b", { v: 2 }, t.now() + 1_000);
    expect(cache.get("a")).toEqual({ v: 1 });
    cache.set("c", { v: 3 }, t.now() + 1_000);
    // "b" was used least recently.
    expect([cache.get("a"), cache.get("b"), cache.get("c")]).toEqual([{ v: 1 }, undefined, { v: 3 }]);
    t.tick(100);
    expect(cache.get("a")).toBeUndefined();
    expect(cache.size).toBe(1);
  });
});

describe("VerifiedTokens: a token is verified once per isolate, until its exp", () => {
  it("knows a verified token's buyer until the token expires, and only under the settings it was verified with", () => {
    const t = clock();
    const tokens = new VerifiedTokens(t.now);
    const settings = {};
    const exp = (t.now() + 60_000) / 1000;
    tokens.remember("token-a", settings, "alice", exp);
    expect(tokens.buyerOf("token-a", settings)).toBe("alice");
    expect(tokens.buyerOf("token-b", settings)).toBeUndefined();
    // Another issuer, audience or key setting: verified again.
    expect(tokens.buyerOf("token-a", {})).toBeUndefined();
    t.tick(60_000);
    expect(tokens.buyerOf("token-a", settings)).toBeUndefined();
  });

  it("holds at most VERIFIED_TOKENS_MAX tokens, however many distinct ones arrive", () => {
    const t = clock();
    const tokens = new VerifiedTokens(t.now);
    const settings = {};
    for (let i = 0; i < VERIFIED_TOKENS_MAX + 500; i++) tokens.remember(`token-${i}`, settings, `u${i}`, t.now() / 1000 + 3600);
    expect(tokens.size).toBe(VERIFIED_TOKENS_MAX);
    expect(tokens.buyerOf(`token-${VERIFIED_TOKENS_MAX + 499}`, settings)).toBe(`u${VERIFIED_TOKENS_MAX + 499}`);
    expect(tokens.buyerOf("token-0", settings)).toBeUndefined();
  });
});

describe("CheckedSolutions: a proof-of-work solution is checked once per isolate", () => {
  it("checks a solution once per buyer and product, keeps a valid verdict until the challenge expires", async () => {
    const t = clock();
    const solutions = new CheckedSolutions(t.now);
    let checks = 0;
    const valid = async () => {
      checks++;
      return { productId: "p", saleId: "s", difficulty: 8, expiresAt: t.now() + 10_000, id: "c1" };
    };
    for (let i = 0; i < 3; i++) expect(await solutions.check("sol", "alice", "p", valid)).toMatchObject({ id: "c1" });
    expect(checks).toBe(1);
    // The verdict is the buyer's and the product's own: the MAC covers both.
    await solutions.check("sol", "bob", "p", valid);
    await solutions.check("sol", "alice", "q", valid);
    expect(checks).toBe(3);
    t.tick(10_000);
    await solutions.check("sol", "alice", "p", valid);
    expect(checks).toBe(4);
  });

  it("remembers a refusal too, so a flood of one forged solution costs one check", async () => {
    const solutions = new CheckedSolutions(clock().now);
    let checks = 0;
    const forged = async () => {
      checks++;
      return "forged" as const;
    };
    for (let i = 0; i < 100; i++) expect(await solutions.check("junk", "mallory", "p", forged)).toBe("forged");
    expect(checks).toBe(1);
    expect(CHECKED_SOLUTIONS_MAX).toBeGreaterThan(0);
  });
});
