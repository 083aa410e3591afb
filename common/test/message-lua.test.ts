/**
 * The messages as the gate's scripts spell them, run through the real Redis (EVAL, its cjson) and
 * parsed with the schemas every consumer uses: what the edge writes is what the origin and the
 * worker accept, field for field.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type {} from "../../stack/test/global-setup";
import { OrderMessage, orderMessageLua, SaleStarted, saleStartedLua, SaleSteered, saleSteeredLua } from "../src";

let redis: Redis;

beforeAll(() => {
  redis = new Redis(inject("stack").redis.url, { maxRetriesPerRequest: 1 });
});

afterAll(() => redis?.disconnect());

/** What the script `return <expression>` gives, ARGV[i] being args[i-1]. */
const evalLua = async (expression: string, args: (string | number)[]) => String(await redis.eval(`return ${expression}`, 0, ...args));

/** A control as a script would spell it: its changes built as a Lua table and cjson-encoded there. */
const steered = saleSteeredLua({
  saleId: "ARGV[1]",
  productId: "ARGV[2]",
  version: "tonumber(ARGV[3])",
  action: "ARGV[4]",
  by: "ARGV[5]",
  at: "tonumber(ARGV[6])",
  changes: "cjson.encode(cjson.decode(ARGV[7]))",
  sale: { quantity: "tonumber(ARGV[8])", perUserLimit: "tonumber(ARGV[9])", startedAt: "tonumber(ARGV[10])", added: "tonumber(ARGV[11])" },
});
const control = (action: string, changes: object, added = 0) =>
  evalLua(steered, ["sale-1", "iphone-15", 7, action, 'ops"on\\call', 1_764_000_000_123, JSON.stringify(changes), 100, 2, 1_763_999_000_456, added]);

describe("saleSteeredLua", () => {
  it("spells an update SaleSteered parses, large integers and an awkward label exact", async () => {
    const changes = { ratePerSecond: 2.5, burst: 10, endsAt: 1_764_003_600_000, ticketTtlSeconds: 120, addStock: 200 };
    const json = await control("update", changes, 2_000_000_000);
    expect(SaleSteered.parse(JSON.parse(json))).toEqual({
      v: 1,
      type: "sale_steered",
      saleId: "sale-1",
      productId: "iphone-15",
      version: 7,
      action: "update",
      by: 'ops"on\\call',
      at: 1_764_000_000_123,
      changes,
      sale: { quantity: 100, perUserLimit: 2, startedAt: 1_763_999_000_456, added: 2_000_000_000 },
    });
    // The schema's field order, nothing more: one spelling of the message.
    expect(Object.keys(JSON.parse(json))).toEqual(Object.keys(SaleSteered.shape));
  });

  it.each(["pause", "resume"])("spells a %s with no changes as an empty object", async (action) => {
    const json = await control(action, {});
    expect(json).toContain('"changes":{}');
    expect(SaleSteered.parse(JSON.parse(json))).toMatchObject({ action, changes: {}, sale: { added: 0 } });
  });
});

describe("the sale's terms in the other messages", () => {
  const order = (added?: string) =>
    orderMessageLua({
      orderId: "'o-1'",
      saleId: "'sale-1'",
      productId: "'iphone-15'",
      userId: "'u-1'",
      quantity: "1",
      idempotencyKey: "'k-1'",
      acceptedAt: "1764000000123",
      sale: { quantity: "100", perUserLimit: "1", startedAt: "1763999000456", ...(added ? { added } : {}) },
      traceparent: "''",
    });

  it("an order carries the units added so far", async () => {
    expect(OrderMessage.parse(JSON.parse(await evalLua(order("tonumber(ARGV[1])"), [250]))).sale).toEqual({
      quantity: 100,
      perUserLimit: 1,
      startedAt: 1_763_999_000_456,
      added: 250,
    });
  });

  it("an order from a script that does not pass it, and a sale start, say none was added", async () => {
    expect(OrderMessage.parse(JSON.parse(await evalLua(order(), []))).sale.added).toBe(0);
    const start = saleStartedLua({ saleId: "'sale-1'", productId: "'iphone-15'", quantity: "100", perUserLimit: "1", startedAt: "1763999000456" });
    expect(SaleStarted.parse(JSON.parse(await evalLua(start, [])))).toMatchObject({ quantity: 100, added: 0 });
  });
});
