import { env } from "cloudflare:workers";
import { buyerKey, IdemStatus, OrderMessage, parseIdemRecord, saleKeys, SaleStarted, SaleTerms } from "@fluxgate/common";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { passGate, type Attempt } from "../src/gate/gate";
import { initSaleKeys } from "../src/gate/init-sale.lua";
import { scripts } from "../src/gate/scripts";
import { uniqueProduct } from "./helpers";

/** The gate script straight against Redis (through the bridge), without HTTP: the bucket's arithmetic. */
const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false, automaticDeserialization: false });

async function start(productId: string, rate: number, burst: number) {
  const k = saleKeys(productId);
  await scripts.initSale.run(redis, initSaleKeys(k), ["sale-1", 1000, rate, burst, 1000, 0, 60_000, productId, 20, 0, 0]);
}

const attempt = (productId: string, userId: string): Attempt => ({
  productId,
  userId,
  quantity: 1,
  idempotencyKey: crypto.randomUUID(),
  requestHash: "h",
  orderId: crypto.randomUUID(),
});

describe("token bucket and watermark (gate.lua)", () => {
  it("spends the burst at once, then queues; the refill admits tickets at the rate", async () => {
    const productId = uniqueProduct("bucket");
    await start(productId, 4, 3);
    const first = await Promise.all([1, 2, 3, 4, 5].map((i) => passGate(redis, attempt(productId, `u${i}`))));
    expect(first.map((o) => o.kind).sort()).toEqual(["accepted", "accepted", "accepted", "queued", "queued"]);
    const holders = new Map(first.flatMap((o, i) => (o.kind === "queued" ? [[o.ticket, `u${i + 1}`] as const] : [])));
    expect([...holders.keys()].sort()).toEqual([1, 2]);

    // 4 tokens/s: after ~300 ms one token has come back (two would take 500 ms), so the
    // watermark passes ticket 1 only. A place is its buyer's: their next attempt uses it.
    await scheduler.wait(300);
    const one = await passGate(redis, attempt(productId, holders.get(1)!));
    expect(one.kind).toBe("accepted");
    const two = await passGate(redis, attempt(productId, holders.get(2)!));
    expect(two.kind).toBe("queued");
    expect(two.kind === "queued" && two.admitted).toBe(1);
  });

  it("never holds more than the burst, however long the sale was idle", async () => {
    const productId = uniqueProduct("cap");
    await start(productId, 50, 2);
    await scheduler.wait(400); // 20 tokens' worth of time, capped at 2
    const outcomes = await Promise.all([1, 2, 3, 4].map((i) => passGate(redis, attempt(productId, `u${i}`))));
    expect(outcomes.filter((o) => o.kind === "accepted").length).toBe(2);
  });

  it("answers unknown for a product with no sale and touches nothing", async () => {
    const productId = uniqueProduct("none");
    expect(await passGate(redis, attempt(productId, "u"))).toEqual({ kind: "unknown" });
    expect(await redis.exists(saleKeys(productId).sale, saleKeys(productId).outbox)).toBe(0);
  });
});

describe("what the scripts write is the shared messages, to the letter", () => {
  // Strict at every level: a field the Lua spells that the schema does not know fails here.
  const StrictOrder = OrderMessage.extend({ sale: SaleTerms.strict() }).strict();

  it("init-sale's sale event and the gate's order parse with the strict schemas, and their idempotency record with its codec", async () => {
    const productId = uniqueProduct("codec");
    const k = saleKeys(productId);
    const [createdAt, event] = await scripts.initSale.run<[number, string, string]>(redis, initSaleKeys(k), [
      "sale-codec",
      7,
      10,
      10,
      2,
      0,
      60_000,
      productId,
      20,
      0,
      0,
    ]);
    expect(SaleStarted.strict().parse(JSON.parse(event))).toEqual({
      v: 1,
      type: "sale",
      saleId: "sale-codec",
      productId,
      quantity: 7,
      perUserLimit: 2,
      startedAt: Number(createdAt),
      added: 0,
    });

    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const buying = { ...attempt(productId, "codec-buyer"), requestHash: "r".repeat(64), traceparent };
    const outcome = await passGate(redis, buying);
    expect(outcome.kind).toBe("accepted");
    const order = StrictOrder.parse(JSON.parse(outcome.kind === "accepted" ? outcome.order : "{}"));
    expect(order).toMatchObject({
      orderId: buying.orderId,
      saleId: "sale-codec",
      productId,
      userId: "codec-buyer",
      quantity: 1,
      idempotencyKey: buying.idempotencyKey,
      traceparent,
    });
    expect(order.sale).toEqual({ quantity: 7, perUserLimit: 2, startedAt: Number(createdAt), added: 0 });
    // The relay's path has only the outbox: the trace must be in the entry it reads.
    const entries = (await redis.xrange(k.outbox, "-", "+")) as unknown as [string, string[]][];
    const outboxed = entries.filter(([, fields]) => fields[0] === "order").map(([, fields]) => StrictOrder.parse(JSON.parse(fields[1]!)));
    expect(outboxed.map((o) => o.traceparent)).toEqual([traceparent]);

    const record = parseIdemRecord(String(await redis.hget(k.idem, buyerKey(buying.userId, buying.idempotencyKey))));
    expect(record).toEqual({ requestHash: buying.requestHash, status: IdemStatus.accepted, payload: outcome.kind === "accepted" ? outcome.order : "" });

    // An attempt without a trace context writes an order without the field (not an empty one).
    const untraced = await passGate(redis, attempt(productId, "codec-buyer-2"));
    expect(untraced.kind).toBe("accepted");
    const text = untraced.kind === "accepted" ? untraced.order : "";
    expect(text).not.toContain("traceparent");
    expect(StrictOrder.parse(JSON.parse(text)).traceparent).toBeUndefined();
  });
});
