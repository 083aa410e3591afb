import { describe, expect, it } from "vitest";
import { call, countRedisCommands, signedIn, initSale, order, uniqueProduct } from "./helpers";

type Status = { state: string; position?: number; etaSeconds?: number };

async function status(productId: string, userId: string, ticket?: string) {
  return call(`/waiting-room/status?productId=${productId}&userId=${userId}`, {
    headers: { ...(await signedIn(userId)), ...(ticket ? { "x-queue-ticket": ticket } : {}) },
  });
}

describe("GET /waiting-room/status", { timeout: 30_000 }, () => {
  it("shows the place going down, then the turn, and the order goes through with the ticket", async () => {
    const productId = uniqueProduct("status");
    await initSale({ productId, quantity: 10, ratePerSecond: 4, burst: 1 });
    await order({ productId, userId: "first" });
    await order({ productId, userId: "second" });
    const key = crypto.randomUUID();
    const res = await order({ productId, userId: "third" }, { key });
    expect(res.status).toBe(302);
    const { ticket } = await res.json<{ ticket: string }>();

    const first = await (await status(productId, "third", ticket)).json<Status>();
    expect(first.state).toBe("waiting");
    expect(first.position).toBeGreaterThan(0);
    let last = first;
    for (let i = 0; i < 30 && last.state !== "your_turn"; i++) {
      await scheduler.wait(100);
      last = await (await status(productId, "third", ticket)).json<Status>();
      expect(last.position!).toBeLessThanOrEqual(first.position!);
    }
    expect(last.state).toBe("your_turn");
    let final = await order({ productId, userId: "third" }, { key, ticket });
    for (let i = 0; i < 10 && final.status === 302; i++) {
      await scheduler.wait(150);
      final = await order({ productId, userId: "third" }, { key, ticket });
    }
    expect(final.status).toBe(200);
  });

  it("answers a crowd of polls with at most one Redis command", async () => {
    const productId = uniqueProduct("polls");
    await initSale({ productId, quantity: 10, ratePerSecond: 1, burst: 1 });
    await order({ productId, userId: "first" });
    const { ticket } = await (await order({ productId, userId: "waiter" })).json<{ ticket: string }>();
    const polls = await countRedisCommands(() => Promise.all(Array.from({ length: 300 }, () => status(productId, "waiter", ticket).then((r) => r.status))));
    expect(polls.result.every((s) => s === 200)).toBe(true);
    expect(polls.commands).toBeLessThanOrEqual(1);
  });

  it("says sold out to a waiting user as soon as the stock is gone", async () => {
    const productId = uniqueProduct("wsold");
    await initSale({ productId, quantity: 2, ratePerSecond: 2, burst: 1 });
    expect((await order({ productId, userId: "u1" })).status).toBe(200);
    const { ticket: t2 } = await (await order({ productId, userId: "u2" })).json<{ ticket: string }>();
    const { ticket: t3 } = await (await order({ productId, userId: "u3" })).json<{ ticket: string }>();
    expect((await (await status(productId, "u3", t3)).json<Status>()).state).toBe("waiting");
    await scheduler.wait(700);
    expect((await order({ productId, userId: "u2" }, { ticket: t2 })).status).toBe(200);
    expect(await (await status(productId, "u3", t3)).json<Status>()).toMatchObject({ state: "sold_out" });
  });

  it("refuses a poll without a valid ticket", async () => {
    const res = await status(uniqueProduct("none"), "nobody");
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ state: "no_ticket" });
  });
});

describe("GET /waiting-room", () => {
  it("serves the page, small, with a live region for the position", async () => {
    const res = await call("/waiting-room?productId=p");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/html/);
    const html = await res.text();
    expect(new TextEncoder().encode(html).byteLength).toBeLessThan(30 * 1024);
    expect(html).toContain('aria-live="polite"');
    expect(html).toContain("/waiting-room/status");
  });
});
