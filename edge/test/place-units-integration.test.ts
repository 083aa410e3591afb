import { readTicketPayload } from "@fluxgate/common";
import { describe, expect, it } from "vitest";
import { call, initSale, order, sale, signedIn, tokenFor, uniqueProduct } from "./helpers";

type Queued = { status: string; ticket: string; standby?: boolean };
type Status = { state: string; quantity?: number; place?: string };

const place = (token: string) => readTicketPayload(token)!;

/** What a link may carry: the product, nothing that buys, chooses the units or names a buyer or key. */
function expectOnlyTheProduct(location: string | null, productId: string) {
  expect(location).toBe(`/waiting-room?productId=${productId}`);
}

describe("where a queued buyer is sent", { timeout: 30_000 }, () => {
  it("names the product only, for a place, a standby place and a pre-queue entry", async () => {
    const productId = uniqueProduct("loc");
    const late = Array.from({ length: 6 }, (_, i) => `late${i}`);
    await Promise.all(["first", "queued", ...late].map(tokenFor));
    await initSale({ productId, quantity: 2, ratePerSecond: 0.5, burst: 1 });
    expect((await order({ productId, userId: "first" })).status).toBe(200);
    const queued = await order({ productId, userId: "queued", quantity: 1 }, { key: "secret-key-1" });
    expect(queued.status).toBe(302);
    expectOnlyTheProduct(queued.headers.get("location"), productId);
    // The last unit is covered by the line: once the isolate knows, later arrivals wait on standby.
    let standby = false;
    for (const userId of late) {
      const res = await order({ productId, userId }, { key: `secret-key-${userId}` });
      expect(res.status).toBe(302);
      expectOnlyTheProduct(res.headers.get("location"), productId);
      if ((await res.json<Queued>()).standby) standby = true;
    }
    expect(standby).toBe(true);

    const early = uniqueProduct("loc-pq");
    await initSale({ productId: early, quantity: 5, prequeueOpensAt: new Date().toISOString(), startsAt: new Date(Date.now() + 60_000).toISOString() });
    const entered = await order({ productId: early, userId: "queued" }, { key: "secret-key-3" });
    expect(entered.status).toBe(202);
    expectOnlyTheProduct(entered.headers.get("location"), early);
  });
});

describe("a place in line buys its own units", { timeout: 60_000 }, () => {
  it("keeps the units first asked for in the ticket; a body naming others gets 422 and changes nothing; none buys the ticket's", async () => {
    const productId = uniqueProduct("units");
    await Promise.all(["first", "ahead", "holder"].map(tokenFor));
    // One admission every two seconds: the holder's place (2nd in line) is reached ~4 s after the first sale.
    await initSale({ productId, quantity: 20, perUserLimit: 5, ratePerSecond: 0.5, burst: 1 });
    expect((await order({ productId, userId: "first" })).status).toBe(200);
    expect((await order({ productId, userId: "ahead" })).status).toBe(302);
    const asked = await order({ productId, userId: "holder", quantity: 3 });
    expect(asked.status).toBe(302);
    const { ticket } = await asked.json<Queued>();
    expect(place(ticket)).toMatchObject({ number: 2, quantity: 3 });
    const before = await sale(productId);

    // A page (or a link) asking for another number of units with the ticket: refused, nothing spent.
    const key = crypto.randomUUID();
    const other = await order({ productId, userId: "holder", quantity: 1 }, { key, ticket });
    expect(other.status).toBe(422);
    expect(await other.json()).toEqual({
      status: "invalid_request",
      error: "quantity differs from your place in line (3): send 3, or no quantity",
      quantity: 3,
    });
    expect(await sale(productId)).toMatchObject({ remaining: before.remaining, sold: before.sold });

    // The same key (not burnt by the refusal), no units named: the same place, still waiting.
    const waiting = await order({ productId, userId: "holder" }, { key, ticket });
    expect(waiting.status).toBe(302);
    expect(place((await waiting.json<Queued>()).ticket)).toMatchObject({ number: 2, quantity: 3 });
    const status = await call(`/waiting-room/status?productId=${productId}`, { headers: { ...(await signedIn("holder")), "x-queue-ticket": ticket } });
    expect(await status.json<Status>()).toMatchObject({ state: "waiting", quantity: 3, place: `${place(ticket).saleId}/2` });

    let bought = waiting;
    for (let i = 0; i < 40 && bought.status === 302; i++) {
      await scheduler.wait(250);
      bought = await order({ productId, userId: "holder" }, { key, ticket });
    }
    expect(bought.status).toBe(200);
    const accepted = await bought.json<{ orderId: string; quantity: number }>();
    expect(accepted.quantity).toBe(3);
    expect((await sale(productId)).remaining).toBe(before.remaining - 3);

    // The key is bound to the ticket's units: naming them replays the order; a request that would buy one is another request.
    const replay = await order({ productId, userId: "holder", quantity: 3 }, { key, ticket });
    expect(await replay.json()).toMatchObject({ status: "accepted", orderId: accepted.orderId, quantity: 3 });
    const unticketed = await order({ productId, userId: "holder" }, { key });
    expect(unticketed.status).toBe(422);
    expect((await sale(productId)).remaining).toBe(before.remaining - 3);
  });

  it("buys one unit for a body without units and without a ticket", async () => {
    const productId = uniqueProduct("units-default");
    await initSale({ productId, quantity: 5, perUserLimit: 5 });
    const res = await order({ productId, userId: "plain" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ quantity: 1 });
  });
});
