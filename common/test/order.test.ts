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
