import { env } from "cloudflare:workers";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { OrderMessage, saleKeys } from "@fluxgate/common";
import { countRedisCommands, initSale, order, sale, uniqueProduct, tokenFor, withBindings } from "./helpers";

const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false, automaticDeserialization: false });

/** Entries ever appended to the sale's outbox stream (XINFO STREAM's entries-added), deleted ones included. */
async function appendedToOutbox(productId: string): Promise<number> {
  const info = (await redis.eval("return redis.call('XINFO', 'STREAM', KEYS[1])", [saleKeys(productId).outbox], [])) as unknown[];
  return Number(info[info.indexOf("entries-added") + 1]);
}

/** The orders the gate accepted, from their idempotency records (kept for the sale's life, unlike outbox entries). */
async function acceptedOrders(productId: string) {
  const flat = (await redis.hgetall(saleKeys(productId).idem)) as unknown as string[];
  const records = flat.filter((_, i) => i % 2 === 1);
  return records.filter((r) => r.split("|")[1] === "accepted").map((r) => OrderMessage.parse(JSON.parse(r.slice(r.indexOf("|", r.indexOf("|") + 1) + 1))));
}

async function outboxOrders(productId: string, saleId: string) {
  // Raw reply: [[id, ["order" | "sale", json]], ...]; every order must be a valid OrderMessage.
  const entries = (await redis.xrange(saleKeys(productId).outbox, "-", "+")) as unknown as [string, string[]][];
  return entries
    .filter(([, fields]) => fields[0] === "order")
    .map(([, fields]) => OrderMessage.parse(JSON.parse(fields[1]!)))
    .filter((o) => o.saleId === saleId);
}

describe("the gate under a crowd", { timeout: 120_000 }, () => {
  it("sells exactly the stock to 5,000 concurrent buyers: 100 accepted, remaining 0, never negative", async () => {
    const productId = uniqueProduct("race");
    // Signed in before the sale opens, as real buyers are: the sale itself is what is measured.
    await Promise.all(Array.from({ length: 5000 }, (_, i) => tokenFor(`u${i}`)));
    // The origin is unreachable here, so every accepted order must stay in the outbox for the relay.
    const { saleId, responses } = await withBindings({ ORIGIN_URL: "http://127.0.0.1:9" }, async () => {
      const { saleId } = await initSale({ productId, quantity: 100, ratePerSecond: 1_000_000 });
      const responses = await Promise.all(
        Array.from({ length: 5000 }, (_, i) =>
          order({ productId, userId: `u${i}` }).then(async (r) => ({ status: r.status, body: await r.json<{ status: string; orderId?: string }>() })),
        ),
      );
      return { saleId, responses };
    });
    const accepted = responses.filter((r) => r.status === 200);
    expect(accepted.length).toBe(100);
    expect(responses.filter((r) => r.status === 409 && r.body.status === "sold_out").length).toBe(4900);
    expect(new Set(accepted.map((r) => r.body.orderId)).size).toBe(100);
    expect(await sale(productId)).toMatchObject({ quantity: 100, remaining: 0, sold: 100 });
    expect(Number(await redis.hget(saleKeys(productId).sale, "remaining"))).toBe(0);
    // The outbox got exactly one entry per accepted order (and the sale event): the relay may already
    // have moved some on (the origin is unreachable and this crowd takes a while on a loaded
    // machine), so count what was appended, and check what is still there.
    expect(await appendedToOutbox(productId)).toBe(100 + 1);
    const outbox = await outboxOrders(productId, saleId);
    const acceptedIds = new Set(accepted.map((r) => r.body.orderId));
    expect(outbox.every((o) => acceptedIds.has(o.orderId))).toBe(true);
    // Each order carries its sale's terms, so the worker can create the sale if the sale event is late.
    const orders = await acceptedOrders(productId);
    expect(orders.map((o) => o.orderId).sort()).toEqual([...acceptedIds].sort());
    expect(new Set(orders.map((o) => JSON.stringify(o.sale)))).toEqual(
      new Set([JSON.stringify({ quantity: 100, perUserLimit: 1, startedAt: orders[0]!.sale.startedAt, added: 0 })]),
    );
  });

  it("turns 50 simultaneous copies of one request into one order and 50 identical answers", async () => {
    const productId = uniqueProduct("double");
    await withBindings({ ORIGIN_URL: "http://127.0.0.1:9" }, async () => {
      const { saleId } = await initSale({ productId, quantity: 10 });
      const key = crypto.randomUUID();
      const responses = await Promise.all(
        Array.from({ length: 50 }, () => order({ productId, userId: "clicker", quantity: 1 }, { key }).then(async (r) => `${r.status} ${await r.text()}`)),
      );
      expect(new Set(responses).size).toBe(1);
      expect(responses[0]).toMatch(/^200 .*"status":"accepted"/);
      expect(await sale(productId)).toMatchObject({ remaining: 9, sold: 1 });
      expect((await outboxOrders(productId, saleId)).length).toBe(1);
      // And a retry long after answers the same again.
      const later = await order({ productId, userId: "clicker", quantity: 1 }, { key });
      expect(`${later.status} ${await later.text()}`).toBe(responses[0]);
    });
  });

  it("holds the per-user limit when one user fires 20 different orders at once", async () => {
    const productId = uniqueProduct("limit");
    await initSale({ productId, quantity: 100, perUserLimit: 2 });
    const statuses = await Promise.all(
      Array.from({ length: 20 }, () => order({ productId, userId: "greedy" }).then(async (r) => `${r.status} ${(await r.json<{ status: string }>()).status}`)),
    );
    expect(statuses.filter((s) => s === "200 accepted").length).toBe(2);
    expect(statuses.filter((s) => s === "409 limit_reached").length).toBe(18);
    expect(await sale(productId)).toMatchObject({ remaining: 98, sold: 2 });
  });

  it("accepts with exactly one Redis command, and answers sold-out from memory with none", async () => {
    const productId = uniqueProduct("count");
    await initSale({ productId, quantity: 1 });
    const firstKey = crypto.randomUUID();
    const first = await countRedisCommands(() => order({ productId, userId: "first" }, { key: firstKey }));
    expect(first.result.status).toBe(200);
    const firstBody = await first.result.json();
    expect(first.commands).toBe(1);

    // The isolate saw the stock reach 0 in that answer: everyone after is told from memory.
    const crowd = await countRedisCommands(() =>
      Promise.all(Array.from({ length: 200 }, (_, i) => order({ productId, userId: `late${i}` }).then((r) => r.status))),
    );
    expect(crowd.result.every((s) => s === 409)).toBe(true);
    expect(crowd.commands).toBe(0);

    // The buyer's own retry still gets its 200, from the same memory.
    const retry = await countRedisCommands(() => order({ productId, userId: "first" }, { key: firstKey }));
    expect(retry.result.status).toBe(200);
    expect(await retry.result.json()).toEqual(firstBody);
    expect(retry.commands).toBe(0);
  });
});
