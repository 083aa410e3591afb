import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { isOutage } from "../src/upstash-health";
import { call, initSale, order, signedIn, uniqueProduct, withBindings } from "./helpers";

/** An address that takes connections and never answers (edge/vitest.config.ts). */
const SILENT_URL = (env as unknown as { SILENT_ORIGIN_URL: string }).SILENT_ORIGIN_URL;

type Unavailable = { status: string; error: string; retryAfterSeconds: number };

/** What a client must be told when the sale's database cannot answer: hold on, and when to come back. */
async function expectUnavailable(res: Response) {
  expect(res.status).toBe(503);
  expect(res.headers.get("retry-after")).toBe("2");
  expect(await res.json<Unavailable>()).toMatchObject({ status: "unavailable", retryAfterSeconds: 2 });
}

describe("when Upstash cannot be reached", { timeout: 30_000 }, () => {
  it("a purchase attempt and a waiting page's status poll get 503 unavailable with Retry-After, never a bare 500", async () => {
    const productId = uniqueProduct("outage");
    await initSale({ productId, quantity: 5, ratePerSecond: 0.5, burst: 1 });
    // A place in line, taken while the database is there.
    await order({ productId, userId: "first" });
    const queued = await order({ productId, userId: "waiting" });
    expect(queued.status).toBe(302);
    const { ticket } = await queued.json<{ ticket: string }>();

    await withBindings({ UPSTASH_REDIS_REST_URL: "http://127.0.0.1:1" }, async () => {
      await expectUnavailable(await order({ productId, userId: "newcomer" }));
      // A poll on a view older than a second refreshes it (fresher ones are answered from memory).
      await scheduler.wait(1_100);
      const status = await call(`/waiting-room/status?productId=${productId}`, { headers: { ...(await signedIn("waiting")), "x-queue-ticket": ticket } });
      await expectUnavailable(status);
    });
    // Back: the place was kept.
    const again = await order({ productId, userId: "waiting" }, { ticket });
    expect([200, 302]).toContain(again.status);
  });

  it("answers within the call's time limit when Upstash takes the connection and never replies", async () => {
    const productId = uniqueProduct("outage-hang");
    const started = Date.now();
    await withBindings({ UPSTASH_REDIS_REST_URL: SILENT_URL }, async () => {
      await expectUnavailable(await order({ productId, userId: "patient" }));
    });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("tells an outage apart from a Redis error reply (our bug: a 500, not a retry)", () => {
    const upstash = (message: string) => Object.assign(new Error(message), { name: "UpstashError" });
    expect(isOutage(upstash("WRONGTYPE Operation against a key holding the wrong kind of value, command was: …"))).toBe(false);
    expect(isOutage(upstash("ERR Error running script, command was: …"))).toBe(false);
    expect(isOutage(upstash("LOADING Redis is loading the dataset in memory"))).toBe(true);
    expect(isOutage(upstash("ERR max daily request limit exceeded"))).toBe(true);
    expect(isOutage(upstash("Internal bridge error: redis unavailable, command was: …"))).toBe(true);
    expect(isOutage(new TypeError("Network connection lost."))).toBe(true);
    expect(isOutage(Object.assign(new Error("The operation was aborted due to timeout"), { name: "TimeoutError" }))).toBe(true);
  });
});
