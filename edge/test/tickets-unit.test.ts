import { describe, expect, it } from "vitest";
import { etaSeconds, signTicket, verifyTicket, type Ticket } from "../src/tickets";

const ticket: Ticket = { productId: "p1", saleId: "s1", number: 42, admittedAtIssue: 40, rate: 10, issuedAt: 1_800_000_000_000 };

describe("queue tickets", () => {
  it("round-trips for the user it was issued to", async () => {
    const token = await signTicket("secret", ticket, "alice");
    expect(await verifyTicket("secret", token, "alice")).toEqual(ticket);
  });

  it.each([
    ["another user", "secret", "bob"],
    ["another secret", "other", "alice"],
  ])("is refused for %s", async (_, secret, user) => {
    const token = await signTicket("secret", ticket, "alice");
    expect(await verifyTicket(secret, token, user)).toBeUndefined();
  });

  it.each(["", "abc", "a.b.c", "!!!.???", `${"a".repeat(600)}.b`])("rejects the malformed token %j", async (token) => {
    expect(await verifyTicket("secret", token, "alice")).toBeUndefined();
  });

  it("says how long the people ahead wait at the sale's rate", () => {
    expect(etaSeconds(25, 10)).toBe(3);
    expect(etaSeconds(0, 10)).toBe(0);
    expect(etaSeconds(5, 0)).toBe(Infinity);
  });
});
