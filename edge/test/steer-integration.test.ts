/**
 * The operator steers a live sale: pause and resume keep everyone's place and claim, the pace and
 * the end change without a restart, stock added to a sold-out sale goes to the people in line
 * first, and every control applies once per Idempotency-Key and lands in the outbox as an event.
 */
import { env } from "cloudflare:workers";
import { SaleEvent, saleKeys } from "@fluxgate/common";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { PAUSED_RECHECK_MS } from "../src/time-windows";
import { ADMIN, call, countRedisCommands, initSale, order, sale, signedIn, uniqueProduct } from "./helpers";

const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false, automaticDeserialization: false });

interface Steered {
  applied: boolean;
  version: number;
  status: "running" | "paused";
  ratePerSecond: number;
  burst: number;
  remaining: number;
  added: number;
  endsAt: string | null;
  ticketTtlSeconds: number;
}

function steer(productId: string, path: "pause" | "resume" | "", init: { body?: unknown; key?: string; headers?: Record<string, string> } = {}) {
  return call(`/sales/${productId}${path ? `/${path}` : ""}`, {
    method: path ? "POST" : "PATCH",
    headers: { ...ADMIN, "content-type": "application/json", "idempotency-key": init.key ?? crypto.randomUUID(), ...init.headers },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
}
const steered = async (res: Response) => {
  expect(res.status).toBe(200);
  return res.json<Steered>();
};
const admin = async (productId: string) =>
  (await call(`/admin/sales/${productId}`, { headers: ADMIN })).json<{
    remaining: number;
    sold: number;
    control: { status: string; version: number; added: number; events: { action: string; by: string; changes: object }[] };
  }>();

/** The sale_steered events in the sale's outbox, as the relay would ship them. */
async function outboxEvents(productId: string) {
  const entries = (await redis.xrange(saleKeys(productId).outbox, "-", "+")) as unknown as [string, string[]][];
  return entries.flatMap(([, fields]) => {
    const event = SaleEvent.parse(JSON.parse(fields[1]!));
    return event.type === "sale_steered" ? [event] : [];
  });
}

describe("steering a live sale", () => {
  it("pauses: every attempt answers 503 paused with Retry-After, a paid key still gets its 200, a queued buyer keeps the place; resume goes on in order", async () => {
    const productId = uniqueProduct("pause");
    await initSale({ productId, quantity: 10, ratePerSecond: 1, burst: 1 });
    const paidKey = crypto.randomUUID();
    expect((await order({ productId, userId: "paid" }, { key: paidKey })).status).toBe(200);
    const queued = await order({ productId, userId: "waiting" });
    expect(queued.status).toBe(302);
    const ticket = (await queued.json<{ ticket: string }>()).ticket;

    expect(await steered(await steer(productId, "pause", { headers: { "x-operator": "ops-alice" } }))).toMatchObject({
      applied: true,
      status: "paused",
      version: 1,
    });
    const during = await order({ productId, userId: "newcomer" });
    expect(during.status).toBe(503);
    expect(during.headers.get("retry-after")).toBe("5");
    expect(await during.json()).toMatchObject({ status: "paused", productId });
    // Paused for longer than the line needs: nobody is admitted meanwhile, the place stands.
    await scheduler.wait(1500);
    expect((await order({ productId, userId: "waiting" }, { ticket })).status).toBe(503);
    expect((await order({ productId, userId: "paid" }, { key: paidKey })).status).toBe(200);
    const status = await call(`/waiting-room/status?productId=${productId}`, { headers: { ...(await signedIn("waiting")), "x-queue-ticket": ticket } });
    expect(await status.json()).toMatchObject({ state: "paused", position: 1 });

    expect(await steered(await steer(productId, "resume"))).toMatchObject({ applied: true, status: "running", version: 2 });
    // The clock stood still while paused: the place is reached a second after the resume, not at once.
    const right = await order({ productId, userId: "waiting" }, { ticket });
    expect(right.status).toBe(302);
    await scheduler.wait(1100);
    expect((await order({ productId, userId: "waiting" }, { ticket })).status).toBe(200);

    const view = await admin(productId);
    expect(view.control).toMatchObject({ status: "running", version: 2 });
    expect(view.control.events.map((e) => [e.action, e.by])).toEqual([
      ["resume", "admin"],
      ["pause", "ops-alice"],
    ]);
    expect((await outboxEvents(productId)).map((e) => e.action)).toEqual(["pause", "resume"]);
  });

  it("spends no command in the name of attempts that skip the proof of work while paused: one look at the sale per re-check", async () => {
    const productId = uniqueProduct("pause-pow");
    await initSale({ productId, quantity: 5, powDifficulty: 10 });
    // The sale page teaches this isolate the sale's proof of work, as a shop's product page would.
    expect((await call(`/sales/${productId}`)).status).toBe(200);
    await steered(await steer(productId, "pause"));
    const headers = await signedIn("skipper");
    const spanMs = 1_200;
    const { result, commands, sent } = await countRedisCommands(async () => {
      const statuses: number[] = [];
      for (const until = Date.now() + spanMs; Date.now() < until; await scheduler.wait(50))
        statuses.push((await order({ productId, userId: "skipper" }, { headers })).status);
      return statuses;
    });
    expect(new Set(result)).toEqual(new Set([503]));
    // The paused view is looked at again past each PAUSED_RECHECK_MS, without anyone's key.
    expect(commands).toBeGreaterThan(0);
    expect(commands).toBeLessThanOrEqual(Math.ceil(spanMs / PAUSED_RECHECK_MS) + 1);
    expect(JSON.stringify(sent)).not.toContain("skipper");
    // Resumed: the next look says so, and the same attempt is asked for the work, from memory.
    await steered(await steer(productId, "resume"));
    await scheduler.wait(PAUSED_RECHECK_MS + 50);
    const after = await order({ productId, userId: "skipper" }, { headers });
    expect(after.status).toBe(401);
    expect(await after.json()).toMatchObject({ status: "challenge" });
  });

  it("applies a control once per Idempotency-Key (a retry answers the same), and says when nothing changed", async () => {
    const productId = uniqueProduct("once");
    await initSale({ productId, quantity: 5 });
    const key = crypto.randomUUID();
    const [a, b] = await Promise.all([steer(productId, "", { key, body: { addStock: 3 } }), steer(productId, "", { key, body: { addStock: 3 } })]);
    expect([await steered(a), await steered(b)].map((r) => [r.added, r.remaining, r.version])).toEqual([
      [3, 8, 1],
      [3, 8, 1],
    ]);
    expect((await steer(productId, "", { key, body: { addStock: 4 } })).status).toBe(422);
    expect(await steered(await steer(productId, "resume"))).toMatchObject({ applied: false, version: 1 });
    expect(await outboxEvents(productId)).toHaveLength(1);
  });

  it("changes the pace, the end and the ticket TTL of a live sale; bad controls get a clear 400 and change nothing", async () => {
    const productId = uniqueProduct("pace");
    await initSale({ productId, quantity: 5, ratePerSecond: 1 });
    const endsAt = new Date(Date.now() + 3_600_000).toISOString();
    expect(await steered(await steer(productId, "", { body: { ratePerSecond: 0.5, burst: 2, endsAt, ticketTtlSeconds: 30 } }))).toMatchObject({
      ratePerSecond: 0.5,
      burst: 2,
      endsAt,
      ticketTtlSeconds: 30,
      version: 1,
    });
    expect(await steered(await steer(productId, "", { body: { endsAt: null } }))).toMatchObject({ endsAt: null, version: 2 });
    for (const body of [{}, { ratePerSecond: -1 }, { addStock: 0 }, { endsAt: "2001-01-01T00:00:00Z" }, { surprise: 1 }]) {
      const res = await steer(productId, "", { body });
      expect(res.status).toBe(400);
      expect(await res.json()).toHaveProperty("error");
    }
    expect((await steer(productId, "pause", { key: "" })).status).toBe(400);
    expect((await call(`/sales/${productId}/pause`, { method: "POST", headers: { "idempotency-key": "k" } })).status).toBe(401);
    expect((await steer(uniqueProduct("none"), "pause")).status).toBe(404);
    expect((await admin(productId)).control.version).toBe(2);
  });

  it("restocks a sold-out sale: it sells again, the added units only", async () => {
    const productId = uniqueProduct("restock");
    await initSale({ productId, quantity: 1, ratePerSecond: 1000, burst: 1 });
    expect((await order({ productId, userId: "first" })).status).toBe(200);
    expect((await order({ productId, userId: "too-late" })).status).toBe(409);
    expect(await steered(await steer(productId, "", { body: { addStock: 2 } }))).toMatchObject({ remaining: 2, added: 2 });
    expect((await order({ productId, userId: "restocked-1" })).status).toBe(200);
    expect((await order({ productId, userId: "restocked-2" })).status).toBe(200);
    expect((await order({ productId, userId: "restocked-3" })).status).toBe(409);
    expect(await admin(productId)).toMatchObject({ sold: 3, remaining: 0 });
    // The public sale page counts the added units too (quantity stays the stock at the start).
    expect(await sale(productId)).toMatchObject({ quantity: 1, added: 2, sold: 3, remaining: 0 });
  });
});
