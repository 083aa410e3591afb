import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createEdge } from "../src/index";
import { Isolate } from "../src/isolate";
import { MAX_NEWCOMER_CALLS } from "../src/purchase/gate-calls";
import { FRESH_VIEW_MS, PUBLIC_VIEW_MS } from "../src/time-windows";
import { call, countRedisCommands, initSale, order, signedIn, uniqueProduct } from "./helpers";

/** Requests that can never take stock, sent as a flood from one signed-in account: what they cost on the bill. */
describe("what cannot buy costs no billed command per request", { timeout: 30_000 }, () => {
  it("an order for a product with no sale: one command per isolate per second, however many arrive", async () => {
    const productId = uniqueProduct("made-up");
    const headers = await signedIn("flooder");
    const { result, commands } = await countRedisCommands(() =>
      Promise.all(Array.from({ length: 50 }, () => order({ productId }, { as: "flooder", headers }).then((r) => r.status))),
    );
    expect(new Set(result)).toEqual(new Set([404]));
    // The first ones in flight before the first reply each ask; after it, the isolate answers.
    expect(commands).toBeLessThanOrEqual(8);
    const again = await countRedisCommands(() => Promise.all(Array.from({ length: 50 }, () => order({ productId }, { as: "flooder" }).then((r) => r.status))));
    expect(again.commands).toBe(0);
  });

  it("attempts that skip the proof of work, on an isolate whose view went stale: a few looks at the sale, none in their name", async () => {
    const productId = uniqueProduct("skip-work");
    await initSale({ productId, quantity: 100, powDifficulty: 10 });
    // The sale page teaches this isolate the proof of work; then its view goes stale.
    expect((await call(`/sales/${productId}`)).status).toBe(200);
    await scheduler.wait(FRESH_VIEW_MS + 100);
    const headers = await signedIn("skipper");
    const { result, commands, sent } = await countRedisCommands(() =>
      Promise.all(Array.from({ length: 50 }, () => order({ productId, userId: "skipper" }, { headers }).then((r) => r.status))),
    );
    expect(new Set(result)).toEqual(new Set([401]));
    // Looks take the newcomers' queue for gate calls: the first fresh view answers the rest.
    expect(commands).toBeGreaterThan(0);
    expect(commands).toBeLessThanOrEqual(MAX_NEWCOMER_CALLS);
    expect(JSON.stringify(sent)).not.toContain("skipper");
  });

  it("the public sale view, of a sale or of a made-up product: one read per product per isolate per second", async () => {
    const productId = uniqueProduct("viewed");
    await initSale({ productId, quantity: 5 });
    const first = await call(`/sales/${productId}`);
    expect(first.status).toBe(200);
    const views = await countRedisCommands(() => Promise.all(Array.from({ length: 50 }, () => call(`/sales/${productId}`).then((r) => r.status))));
    expect(views.result.every((s) => s === 200)).toBe(true);
    expect(views.commands).toBe(0);

    const madeUp = uniqueProduct("no-such");
    expect((await call(`/sales/${madeUp}`)).status).toBe(404);
    const misses = await countRedisCommands(() => Promise.all(Array.from({ length: 50 }, () => call(`/sales/${madeUp}`).then((r) => r.status))));
    expect(misses.result.every((s) => s === 404)).toBe(true);
    expect(misses.commands).toBe(0);
    // A sale started here is known at once, whatever this isolate remembered.
    await initSale({ productId: madeUp, quantity: 1 });
    expect((await call(`/sales/${madeUp}`)).status).toBe(200);
  });

  it("a crowd opening a product page at once: one read per isolate per window, not one per request in flight", async () => {
    const productId = uniqueProduct("crowded-page");
    await initSale({ productId, quantity: 5 });
    const clock = { t: Date.now() };
    const app = createEdge(new Isolate(() => clock.t));
    const view = async () => {
      const ctx = createExecutionContext();
      const res = await app.fetch(new Request(`http://edge/sales/${productId}`), env, ctx);
      await waitOnExecutionContext(ctx);
      return res.status;
    };
    const crowd = () => Promise.all(Array.from({ length: 100 }, view));
    // This isolate has never read the sale: the first request reads it, the others wait for that read.
    const first = await countRedisCommands(crowd);
    expect(first.result.every((s) => s === 200)).toBe(true);
    expect(first.commands).toBe(1);
    // The view is a window old: one request reads it again, the others answer the last one meanwhile.
    clock.t += PUBLIC_VIEW_MS;
    const again = await countRedisCommands(crowd);
    expect(again.result.every((s) => s === 200)).toBe(true);
    expect(again.commands).toBe(1);
  });
});
