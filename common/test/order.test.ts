import { describe, expect, it } from "vitest";
import { OrderMessage, SaleEvent, SaleSteered } from "../src";

const valid = {
  v: 1,
  type: "order",
  orderId: "01J9Z4Q6W8E2",
  saleId: "s1",
  productId: "iphone-15",
  userId: "user-42",
  quantity: 1,
  idempotencyKey: "k-1",
  acceptedAt: 1_764_000_000_000,
  sale: { quantity: 100, perUserLimit: 1, startedAt: 1_763_999_000_000, added: 0 },
};

describe("OrderMessage", () => {
  it("accepts a well-formed order", () => {
    expect(OrderMessage.parse(valid)).toEqual(valid);
  });

  it("reads an order from before restocking (no `added`) as one of a sale nothing was added to", () => {
    const { added: _, ...terms } = valid.sale;
    expect(OrderMessage.parse({ ...valid, sale: terms }).sale.added).toBe(0);
  });

  it.each([
    ["an unknown schema version", { v: 2 }],
    ["a zero quantity", { quantity: 0 }],
    ["a fractional quantity", { quantity: 1.5 }],
    ["a product id with a slash", { productId: "a/b" }],
    ["an empty user id", { userId: "" }],
    ["a key with a space", { idempotencyKey: "a b" }],
    ["no sale terms", { sale: undefined }],
    ["a sale without stock terms", { sale: { perUserLimit: 1, startedAt: 1 } }],
    ["a negative added stock", { sale: { ...valid.sale, added: -1 } }],
  ])("refuses %s", (_, patch) => {
    expect(OrderMessage.safeParse({ ...valid, ...patch }).success).toBe(false);
  });
});

describe("OrderMessage.traceparent", () => {
  const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

  it("keeps a valid one", () => {
    expect(OrderMessage.parse({ ...valid, traceparent }).traceparent).toBe(traceparent);
  });

  it.each([
    ["an invalid one", "00-not-a-trace"],
    ["one of another type", 42],
  ])("reads %s as none, and still accepts the order: a trace never costs an order", (_, broken) => {
    const parsed = OrderMessage.safeParse({ ...valid, traceparent: broken });
    expect(parsed.success).toBe(true);
    expect(parsed.data?.traceparent).toBeUndefined();
    expect(parsed.data?.orderId).toBe(valid.orderId);
  });
});

describe("SaleSteered", () => {
  const update = {
    v: 1,
    type: "sale_steered",
    saleId: "s1",
    productId: "iphone-15",
    version: 3,
    action: "update",
    by: "ops-oncall",
    at: 1_764_000_000_000,
    changes: { ratePerSecond: 0.5, addStock: 200 },
    sale: { quantity: 100, perUserLimit: 1, startedAt: 1_763_999_000_000, added: 200 },
  };
  const pause = { ...update, action: "pause", changes: {} };

  it("accepts an update and a pause, as sale events", () => {
    expect(SaleEvent.parse(update)).toEqual(update);
    expect(SaleEvent.parse(pause)).toEqual(pause);
  });

  it.each([
    ["version 0", { version: 0 }],
    ["an unknown action", { action: "restart" }],
    ["an empty label", { by: "" }],
    ["a label with a space", { by: "ops team" }],
    ["a label over 64 characters", { by: "x".repeat(65) }],
    ["a rate of 0", { changes: { ratePerSecond: 0 } }],
    ["a fractional burst", { changes: { burst: 1.5 } }],
    ["a ticket TTL over an hour", { changes: { ticketTtlSeconds: 3601 } }],
    ["adding no stock", { changes: { addStock: 0 } }],
    ["an update that changes nothing", { changes: {} }],
    ["a pause that changes settings", { action: "pause", changes: { burst: 5 } }],
    ["no sale terms", { sale: undefined }],
  ])("refuses %s", (_, patch) => {
    expect(SaleEvent.safeParse({ ...update, ...patch }).success).toBe(false);
  });

  it("says why an update that changes nothing is refused", () => {
    const issues = SaleSteered.safeParse({ ...update, changes: {} }).error?.issues ?? [];
    expect(issues.map((i) => [i.path.join("."), i.message])).toEqual([["changes", expect.stringContaining("at least one setting")]]);
  });
});
