import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { CATALOG_KEYS, forgetSales } from "@fluxgate/common";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { scripts } from "../src/gate/scripts";
import { createEdge } from "../src/index";
import { Isolate } from "../src/isolate";
import { signTicket, TICKET_HEADER } from "../src/tickets";
import { CATALOG_COPY_MS, UNKNOWN_PRODUCT_FLOOD_MS } from "../src/time-windows";
import { countRedisCommands, initSale, signedIn, uniqueProduct } from "./helpers";

/** One isolate of the edge with a clock the test holds, called the way the runtime calls it. */
function isolateWithClock() {
  const clock = { t: Date.now() };
  const app = createEdge(new Isolate(() => clock.t));
  const fetch = async (path: string, init: RequestInit = {}) => {
    const ctx = createExecutionContext();
    const res = await app.fetch(new Request(`http://edge${path}`, { redirect: "manual", ...init }), env, ctx);
    await waitOnExecutionContext(ctx);
    await res.arrayBuffer();
    return res.status;
  };
  return { clock, fetch };
}

/** The three routes a product id reaches Redis through, as an attacker sends them: view, order (signed in), status (with a ticket). */
async function routes(fetch: (path: string, init?: RequestInit) => Promise<number>) {
  const headers = await signedIn("catalog-flooder");
  return {
    view: (productId: string) => fetch(`/sales/${productId}`),
    order: (productId: string) =>
      fetch("/order", {
        method: "POST",
        headers: { ...headers, "content-type": "application/json", "idempotency-key": crypto.randomUUID() },
        body: JSON.stringify({ productId }),
      }),
    // A genuine ticket of a product that has no sale (a sale deleted since, say): only the status's refresh could ask Redis.
    status: async (productId: string) => {
      const ticket = await signTicket(
        env.TICKET_SECRET,
        { productId, saleId: "gone", number: 5, admittedAtIssue: 0, rate: 1, issuedAt: Date.now(), quantity: 1 },
        "catalog-flooder",
      );
      return fetch(`/waiting-room/status?productId=${productId}`, { headers: { ...headers, [TICKET_HEADER]: ticket } });
    },
  };
}

describe("a flood of made-up product ids", { timeout: 120_000 }, () => {
  it("10,000 random ids over the view, order and status routes cost at most 3 commands in a window; a sale started meanwhile is found after it", async () => {
    const { clock, fetch } = isolateWithClock();
    const route = await routes(fetch);
    const ids = Array.from({ length: 10_000 }, (_, i) => `made-up-${i}-${crypto.randomUUID().slice(0, 8)}`);
    const { result, commands } = await countRedisCommands(async () => {
      const statuses: number[] = [];
      for (let i = 0; i < ids.length; i += 100) {
        const batch = ids.slice(i, i + 100);
        statuses.push(...(await Promise.all(batch.map((id, j) => [route.view, route.order, route.status][(i + j) % 3]!(id)))));
      }
      return statuses;
    });
    // 404 for the view and the order; the status of a sale nobody knows shows the ticket's own place.
    expect(new Set(result.filter((_, i) => i % 3 !== 2))).toEqual(new Set([404]));
    expect(result.filter((_, i) => i % 3 === 2).every((s) => s === 200)).toBe(true);
    // The first id's own lookup, which found no sale, then one read of the catalog (an EVALSHA; an
    // EVAL too if Redis had lost the script): the rest were answered from it.
    expect(commands).toBeLessThanOrEqual(3);

    // A sale started on another isolate during the flood: missed until this isolate reads the catalog again, at most a window later.
    const productId = uniqueProduct("launched");
    await initSale({ productId, quantity: 5 });
    expect(await route.view(productId)).toBe(404);
    clock.t += CATALOG_COPY_MS / 2;
    expect(await route.order(`made-up-${crypto.randomUUID()}`)).toBe(404);
    clock.t += CATALOG_COPY_MS / 2;
    const found = await countRedisCommands(async () => [await route.view(productId), await route.view(productId)]);
    expect(found.result).toEqual([200, 200]);
    // The catalog's read, then the sale's view (read once for the window).
    expect(found.commands).toBe(2);
  });

  it("with no flood, a sale started on another isolate is found at once by each route", async () => {
    const { clock, fetch } = isolateWithClock();
    const route = await routes(fetch);
    // One made-up id a while ago (longer than a flood lasts): no flood now.
    expect(await route.view(uniqueProduct("nothing"))).toBe(404);
    clock.t += UNKNOWN_PRODUCT_FLOOD_MS;
    for (const [name, ask] of Object.entries({ view: route.view, order: route.order })) {
      const productId = uniqueProduct(`later-${name}`);
      await initSale({ productId, quantity: 5 });
      const { result, commands } = await countRedisCommands(() => ask(productId));
      expect(result, name).toBe(200);
      // Its own lookup (the view's HMGET, the order's gate call): nothing more for being new here.
      expect(commands, name).toBe(1);
    }
  });

  it("the catalog's version changes whenever a product joins or leaves, never back to one an isolate may hold", async () => {
    const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false, automaticDeserialization: false });
    const read = async (known = "") =>
      scripts.catalog.run<[string, number?, string[]?]>(redis, [CATALOG_KEYS.products, CATALOG_KEYS.version], [known, 1_000_000]);
    const [a, b] = [uniqueProduct("joins"), uniqueProduct("leaves")];
    const seen = new Set<string>();
    const step = async (change: () => Promise<unknown>, member: string, present: boolean) => {
      const [before] = await read();
      seen.add(before);
      await change();
      const [version, , members] = await read(before);
      // A copy of `before` is told it changed, and gets the members now.
      expect(seen.has(version)).toBe(false);
      expect(members?.includes(member)).toBe(present);
    };
    await step(() => initSale({ productId: a, quantity: 1 }), a, true);
    await step(() => initSale({ productId: b, quantity: 1 }), b, true);
    await step(() => forgetSales(redis, [b]), b, false);
    // Two forgets in a row: the second is a change too.
    await step(() => forgetSales(redis, [a]), a, false);
  });
});
