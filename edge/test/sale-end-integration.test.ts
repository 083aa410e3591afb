/**
 * A sale ends: at its endsAt, when the operator closes it, or when it sells out. After the end a
 * purchase gets 409 "ended" — from the isolate's memory, without Redis — while a retry of an
 * accepted order still gets its 200, and the origin's relay is told so it can retire the outbox.
 */
import { env } from "cloudflare:workers";
import { OUTBOXES_KEY, saleKeys } from "@fluxgate/common";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { ADMIN, call, countRedisCommands, initSale, order, sale, signedIn, uniqueProduct } from "./helpers";

const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false, automaticDeserialization: false });
const close = (productId: string, headers: Record<string, string> = ADMIN) => call(`/sales/${productId}/close`, { method: "POST", headers });

const registered = async (productId: string) => Number(await redis.sismember(OUTBOXES_KEY, saleKeys(productId).outbox)) === 1;

async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await check()); await scheduler.wait(200)) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
  }
}

describe("a sale that ends", () => {
  it("at its endsAt answers 409 ended, from memory once one gate call saw it", async () => {
    const productId = uniqueProduct("ends");
    const endsAt = new Date(Date.now() + 1500).toISOString();
    const init = await initSale({ productId, quantity: 100, endsAt });
    expect(init).toMatchObject({ endsAt });
    expect((await order({ productId, userId: "early" })).status).toBe(200);

    await scheduler.wait(1700);
    const first = await order({ productId, userId: "late-0" });
    expect(first.status).toBe(409);
    expect(await first.json()).toEqual({ status: "ended", productId });
    const crowd = await countRedisCommands(() =>
      Promise.all(Array.from({ length: 50 }, (_, i) => order({ productId, userId: `late-${i + 1}` }).then((r) => r.status))),
    );
    expect(crowd.result).toEqual(Array(50).fill(409));
    expect(crowd.commands).toBe(0);
    expect(await sale(productId)).toMatchObject({ sold: 1, remaining: 99, ended: true, endsAt });
  });

  it("closed by the operator: 409 ended for new buyers, the accepted retry still 200, the outbox retired once drained", { timeout: 30_000 }, async () => {
    const productId = uniqueProduct("close");
    await initSale({ productId, quantity: 10 });
    expect(await registered(productId)).toBe(true);
    const key = crypto.randomUUID();
    const accepted = await order({ productId, userId: "buyer" }, { key });
    expect(accepted.status).toBe(200);
    const body = await accepted.json();

    expect((await close(productId, {})).status).toBe(401);
    const closed = await close(productId);
    expect(closed.status).toBe(200);
    const closing = await closed.json<{ status: string; endsAt: string }>();
    expect(closing).toMatchObject({ productId, status: "ended" });
    expect(Date.parse(closing.endsAt)).toBeLessThanOrEqual(Date.now());

    const late = await order({ productId, userId: "late" });
    expect(late.status).toBe(409);
    expect(await late.json()).toEqual({ status: "ended", productId });
    const retry = await order({ productId, userId: "buyer" }, { key });
    expect(retry.status).toBe(200);
    expect(await retry.json()).toEqual(body);
    // Closing again keeps the first end.
    expect(await (await close(productId)).json()).toMatchObject({ endsAt: closing.endsAt });
    expect(await sale(productId)).toMatchObject({ sold: 1, remaining: 9, ended: true });
    // The stack's origin relay, told by the close, delivers what is left and stops reading the outbox.
    await eventually(async () => !(await registered(productId)), 20_000);
    expect(Number(await redis.xlen(saleKeys(productId).outbox))).toBe(0);
  });

  it("tells the waiting room the sale ended", async () => {
    const productId = uniqueProduct("close-line");
    await initSale({ productId, quantity: 10, ratePerSecond: 0.001, burst: 1 });
    expect((await order({ productId, userId: "first" })).status).toBe(200);
    const queued = await order({ productId, userId: "waiting" });
    expect(queued.status).toBe(302);
    const { ticket } = await queued.json<{ ticket: string }>();
    const status = async () =>
      (
        await call(`/waiting-room/status?productId=${productId}&userId=waiting`, { headers: { "x-queue-ticket": ticket, ...(await signedIn("waiting")) } })
      ).json<{ state: string }>();
    expect((await status()).state).toBe("waiting");
    expect((await close(productId)).status).toBe(200);
    // The isolate's view of the sale is at most a second old.
    await scheduler.wait(1100);
    expect((await status()).state).toBe("ended");
  });

  it("refuses an endsAt in the past or before startsAt, and a close of an unknown sale", async () => {
    const productId = uniqueProduct("bad-end");
    const bad = async (extra: Record<string, unknown>) =>
      call("/init", { method: "POST", headers: { ...ADMIN, "content-type": "application/json" }, body: JSON.stringify({ productId, quantity: 1, ...extra }) });
    const past = await bad({ endsAt: new Date(Date.now() - 1000).toISOString() });
    expect(past.status).toBe(400);
    expect(JSON.stringify(await past.json())).toContain("endsAt");
    const beforeStart = await bad({ startsAt: new Date(Date.now() + 60_000).toISOString(), endsAt: new Date(Date.now() + 30_000).toISOString() });
    expect(beforeStart.status).toBe(400);
    expect((await sale(productId)) as unknown).toMatchObject({ error: "unknown product" });
    expect((await close(productId)).status).toBe(404);
  });

  it("a restart after the end opens a fresh sale", async () => {
    const productId = uniqueProduct("reopen");
    await initSale({ productId, quantity: 5 });
    await close(productId);
    expect((await order({ productId, userId: "a" })).status).toBe(409);
    await initSale({ productId, quantity: 5 });
    expect((await order({ productId, userId: "a" })).status).toBe(200);
    expect(await sale(productId)).toMatchObject({ ended: false, endsAt: null });
  });
});
