import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { Redis } from "@upstash/redis/cloudflare";
import { CHALLENGE_SOLUTION_HEADER, saleKeys, solves } from "@fluxgate/common";
import { describe, expect, it } from "vitest";
import { issueChallenge } from "../src/challenge";
import { createEdge } from "../src/index";
import { Isolate } from "../src/isolate";
import { initSaleKeys } from "../src/gate/init-sale.lua";
import { scripts } from "../src/gate/scripts";
import { KEY_FILTER_BITS_PER_KEY } from "../src/gate/key-filter";
import { countRedisCommands, initSale, order, sale, signedIn, uniqueProduct } from "./helpers";

const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false, automaticDeserialization: false });

type Challenged = { status: string; problem: string; challenge?: string; difficulty?: number; how: string };

/** What an API client does with a 401 challenge: count nonces up from 0 until one solves it. */
async function solve(challenge: string, difficulty: number): Promise<string> {
  for (let nonce = 0; ; nonce++) if (await solves(challenge, String(nonce), difficulty)) return `${challenge}.${nonce}`;
}

/** One attempt without a solution (the 401 hands out a challenge), then the same order with it solved. */
async function challenged(productId: string, as: string): Promise<Challenged> {
  const res = await order({ productId }, { as });
  expect(res.status).toBe(401);
  return res.json<Challenged>();
}

const withSolution = (solution: string) => ({ [CHALLENGE_SOLUTION_HEADER]: solution });

/** Another isolate of the same edge (its own memory), as a retry on Cloudflare usually finds. */
function isolateApp(): (path: string, init?: RequestInit) => Promise<Response> {
  const app = createEdge(new Isolate());
  return async (path, init = {}) => {
    const ctx = createExecutionContext();
    const res = await app.fetch(new Request(`http://edge${path}`, { redirect: "manual", ...init }), env, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  };
}

describe("proof of work when the operator asks for it (powDifficulty)", { timeout: 30_000 }, () => {
  it("an attempt without a solution gets a challenge for free; solved, the same order goes through", async () => {
    const productId = uniqueProduct("pow");
    const init = await initSale({ productId, quantity: 5, powDifficulty: 8 });
    expect(init).toMatchObject({ powDifficulty: 8 });

    const { result: res, commands } = await countRedisCommands(() => order({ productId }, { as: "solver" }));
    expect(commands).toBe(0);
    expect(res.status).toBe(401);
    const body = await res.json<Challenged>();
    expect(body).toMatchObject({ status: "challenge", problem: "required", difficulty: 8, how: expect.stringContaining("SHA-256") });

    const solution = await solve(body.challenge!, 8);
    const key = crypto.randomUUID();
    const bought = await countRedisCommands(() => order({ productId }, { as: "solver", key, headers: withSolution(solution) }));
    expect(bought.result.status).toBe(200);
    expect(bought.commands).toBe(1);
    // A retry of the same order (same key) answers the same, solution or not.
    expect((await order({ productId }, { as: "solver", key, headers: withSolution(solution) })).status).toBe(200);
    expect(await sale(productId)).toMatchObject({ sold: 1 });
  });

  it("a solution is single-use: replayed with another key it gets a new challenge and buys nothing", async () => {
    const productId = uniqueProduct("pow-replay");
    await initSale({ productId, quantity: 5, powDifficulty: 8, perUserLimit: 5 });
    const { challenge } = await challenged(productId, "reuser");
    const solution = await solve(challenge!, 8);
    expect((await order({ productId }, { as: "reuser", headers: withSolution(solution) })).status).toBe(200);
    const replays = await Promise.all(Array.from({ length: 5 }, () => order({ productId }, { as: "reuser", headers: withSolution(solution) })));
    for (const r of replays) {
      expect(r.status).toBe(401);
      expect(await r.json()).toMatchObject({ status: "challenge", problem: "replayed", challenge: expect.any(String) });
    }
    expect(await sale(productId)).toMatchObject({ sold: 1 });
  });

  it("refuses forged, borrowed, unsolved and expired solutions with no Redis command", async () => {
    const productId = uniqueProduct("pow-bad");
    const { saleId } = await initSale({ productId, quantity: 5, powDifficulty: 8 });
    const { challenge } = await challenged(productId, "honest");
    const good = await solve(challenge!, 8);
    const [payload, mac, nonce] = good.split(".");
    const expired = await issueChallenge(env.TICKET_SECRET, "honest", { productId, saleId, difficulty: 8 }, Date.now() - 10 * 60_000);
    const cases: [string, string, string][] = [
      ["a tampered MAC", "honest", `${payload}.${mac!.slice(0, -2)}AA.${nonce}`],
      ["a challenge signed for another buyer", "borrower", good],
      ["a nonce that does not solve it", "honest", `${payload}.${mac}.${await firstNonSolution(`${payload}.${mac}`, 8)}`],
      ["an expired challenge", "honest", await solve(expired.token, 8)],
      ["garbage", "honest", "not-a-solution"],
    ];
    const problems: string[] = [];
    for (const [, as, solution] of cases) {
      const { result: res, commands } = await countRedisCommands(() => order({ productId }, { as, headers: withSolution(solution) }));
      expect(res.status).toBe(401);
      expect(commands).toBe(0);
      problems.push((await res.json<Challenged>()).problem);
    }
    expect(problems).toEqual(["forged", "forged", "unsolved", "expired", "forged"]);
    expect(await sale(productId)).toMatchObject({ sold: 0 });
  });

  it("a challenge of an earlier run of the sale is stale; a fresh isolate learns the setting from its first gate call", async () => {
    const productId = uniqueProduct("pow-stale");
    await initSale({ productId, quantity: 5, powDifficulty: 8 });
    const { challenge } = await challenged(productId, "early");
    const old = await solve(challenge!, 8);
    // The operator restarts the sale straight in Redis (as another isolate's /init would): this isolate still knows the old run.
    const k = saleKeys(productId);
    await scripts.initSale.run(redis, initSaleKeys(k), ["run-2", 5, 10_000, 10_000, 1, 0, 60_000, productId, KEY_FILTER_BITS_PER_KEY, 0, 10]);
    const stale = await countRedisCommands(() => order({ productId }, { as: "early", headers: withSolution(old) }));
    expect(stale.commands).toBe(1);
    expect(stale.result.status).toBe(401);
    const body = await stale.result.json<Challenged>();
    expect(body).toMatchObject({ problem: "stale", difficulty: 10 });
    // Learned: the next attempt without a solution is challenged without Redis, at the new difficulty.
    const next = await countRedisCommands(() => order({ productId }, { as: "early" }));
    expect(next.commands).toBe(0);
    expect(await next.result.json()).toMatchObject({ difficulty: 10 });
    expect((await order({ productId }, { as: "early", headers: withSolution(await solve(body.challenge!, 10)) })).status).toBe(200);
  });

  it("a buyer holding a place in line does not solve again; sales without powDifficulty ask for nothing", async () => {
    const productId = uniqueProduct("pow-queue");
    await initSale({ productId, quantity: 5, powDifficulty: 8, ratePerSecond: 5, burst: 1 });
    const pass = async (as: string, key?: string) => {
      const { challenge } = await challenged(productId, as);
      return order({ productId }, { as, ...(key ? { key } : {}), headers: withSolution(await solve(challenge!, 8)) });
    };
    expect((await pass("first")).status).toBe(200);
    const key = crypto.randomUUID();
    const queued = await pass("second", key);
    expect(queued.status).toBe(302);
    const { ticket } = await queued.json<{ ticket: string }>();
    await new Promise((r) => setTimeout(r, 400));
    expect((await order({ productId }, { as: "second", key, ticket })).status).toBe(200);

    const plain = uniqueProduct("no-pow");
    await initSale({ productId: plain, quantity: 1 });
    expect((await order({ productId: plain }, { as: "anyone" })).status).toBe(200);
  });
  it("a paid buyer's retry without the work, on a sold-out sale, is asked for it from memory; solved, it gets its 200", async () => {
    const productId = uniqueProduct("pow-paid-retry");
    await initSale({ productId, quantity: 1, powDifficulty: 8 });
    const { challenge } = await challenged(productId, "payer");
    const key = crypto.randomUUID();
    const first = await order({ productId }, { as: "payer", key, headers: withSolution(await solve(challenge!, 8)) });
    expect(first.status).toBe(200);
    const { orderId } = await first.json<{ orderId: string }>();
    // The retry lands on another isolate, which knows the sale from its page. The accepted-keys
    // filter holds the key: that isolate cannot tell a retry from a false positive, so neither
    // goes to Redis in the name of no work.
    const other = isolateApp();
    expect((await other(`/sales/${productId}`)).status).toBe(200);
    const retryOn = async (headers: Record<string, string> = {}) =>
      other("/order", {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": key, ...(await signedIn("payer")), ...headers },
        body: JSON.stringify({ productId }),
      });
    const retry = await countRedisCommands(() => retryOn());
    expect(retry.result.status).toBe(401);
    expect(JSON.stringify(retry.sent)).not.toContain("payer");
    const { challenge: again } = await retry.result.json<Challenged>();
    const solved = await retryOn(withSolution(await solve(again!, 8)));
    expect(solved.status).toBe(200);
    expect(await solved.json()).toMatchObject({ orderId });
  });

  it("'sold out for now' (units held for payment): attempts without the work cost no command in their name", async () => {
    const productId = uniqueProduct("pow-held");
    await initSale({ productId, quantity: 1, powDifficulty: 8, holdSeconds: 30 });
    const { challenge } = await challenged(productId, "holder");
    expect((await order({ productId }, { as: "holder", headers: withSolution(await solve(challenge!, 8)) })).status).toBe(200);
    const headers = await signedIn("no-work");
    const { result, sent } = await countRedisCommands(() =>
      Promise.all(Array.from({ length: 20 }, () => order({ productId }, { as: "no-work", headers }).then((r) => r.status))),
    );
    expect(new Set(result)).toEqual(new Set([401]));
    expect(JSON.stringify(sent)).not.toContain("no-work");
    // Solved, the attempt gets a place in line and is told units may come back.
    const { challenge: fresh } = await challenged(productId, "no-work");
    const waiting = await order({ productId }, { as: "no-work", headers: withSolution(await solve(fresh!, 8)) });
    expect(waiting.status).toBe(302);
    expect(await waiting.json()).toMatchObject({ soldOutForNow: true });
  });
});

async function firstNonSolution(challenge: string, difficulty: number): Promise<number> {
  for (let nonce = 0; ; nonce++) if (!(await solves(challenge, String(nonce), difficulty))) return nonce;
}
