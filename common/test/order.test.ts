import { describe, expect, it } from "vitest";
import { OrderMessage } from "../src";

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
  sale: { quantity: 100, perUserLimit: 1, startedAt: 1_763_999_000_000 },
};

describe("OrderMessage", () => {
  it("accepts a well-formed order", () => {
    expect(OrderMessage.parse(valid)).toEqual(valid);
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
