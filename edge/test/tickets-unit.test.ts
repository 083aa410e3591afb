import { hmacKey } from "@fluxgate/common";
import { describe, expect, it } from "vitest";
import { etaSeconds, signTicket, verifyTicket, type Ticket } from "../src/tickets";

const ticket: Ticket = { productId: "p1", saleId: "s1", number: 42, admittedAtIssue: 40, rate: 10, issuedAt: 1_800_000_000_000, quantity: 3 };

describe("queue tickets", () => {
  it("round-trips for the user it was issued to", async () => {
    const token = await signTicket("secret", ticket, "alice");
    expect(await verifyTicket("secret", token, "alice")).toEqual(ticket);
  });

  it("keeps the units the place buys, and refuses a ticket issued before tickets kept them", async () => {
    const token = await signTicket("secret", ticket, "alice");
    expect((await verifyTicket("secret", token, "alice"))?.quantity).toBe(3);
    // The same signed layout without the units (as issued before): not a ticket any more.
    const [productId, saleId, number, admittedAtIssue, rate, issuedAt] = JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()) as unknown[];
    const old = Buffer.from(JSON.stringify([productId, saleId, number, admittedAtIssue, rate, issuedAt])).toString("base64url");
    const mac = Buffer.from(await crypto.subtle.sign("HMAC", await hmacKey("secret"), new TextEncoder().encode(`${old}\nalice`))).toString("base64url");
    expect(await verifyTicket("secret", `${old}.${mac}`, "alice")).toBeUndefined();
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
