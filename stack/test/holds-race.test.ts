/**
 * 1,000 payment confirmations racing their holds' expiry through every layer of the running
 * stack: the shop confirms each order around the moment its 2 s hold expires, and each order ends
 * exactly one way — the way its confirmation was told (200 paid, 409 expired) — at the edge, in
 * Kafka and in PostgreSQL, with the audit clean.
 */
import { forgetSales } from "@fluxgate/common";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { audit, auditClean, type AuditReport } from "../src/audit";
import { sleep } from "../src/daemon";
import { mintTokens } from "../src/issuer/client";
import { ensureDevVars } from "../src/secrets";

const stack = inject("stack");
const productId = `holds-race-${Date.now().toString(36)}`;
const ORDERS = 1_000;
const HOLD_SECONDS = 2;
/**
 * Each confirmation fires within AROUND_MS of AIM_MS before its order's expiry: a little early,
 * as the request still has to reach Redis (a few ms idle, a few hundred on a busy machine).
 */
const AROUND_MS = 500;
const AIM_MS = 200;
/** Buyers ordering at once (the local edge is one process). */
const CONCURRENCY = 50;

const vars = ensureDevVars();
const admin = { authorization: `Bearer ${vars.get("ADMIN_TOKEN")}`, "content-type": "application/json" };
const shop = { authorization: `Bearer ${vars.get("SHOP_API_TOKEN")}` };
const targets = { redisUrl: stack.redis.url, databaseUrl: stack.postgres.url, kafkaBrokers: stack.kafka.brokers };
let db: pg.Client;

interface Race {
  orderId: string;
  /** The confirmation's answer: 200 (paid) or 409 (expired), anything else is a failure. */
  status: number;
  told: string;
}

/** Runs `task` over `items`, `limit` at a time. */
async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await task(items[next++]!);
    }),
  );
}

beforeAll(async () => {
  db = new pg.Client({ connectionString: stack.postgres.url });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
  const redis = new Redis(stack.redis.url);
  await forgetSales(redis, [productId]);
  redis.disconnect();
});

describe("1,000 confirmations racing their holds' expiry", { timeout: 300_000 }, () => {
  it("end each order exactly one way, the one its confirmation was told, on every layer", async () => {
    const init = await fetch(`${stack.edge.url}/init`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ productId, quantity: ORDERS, holdSeconds: HOLD_SECONDS }),
    });
    expect(init.status).toBe(200);
    const buyers = Array.from({ length: ORDERS }, (_, i) => `racer-${i}`);
    const tokens = await mintTokens(stack.issuer.url, buyers);

    const races: Promise<Race>[] = [];
    const unexpected: number[] = [];
    await pool(buyers, CONCURRENCY, async (userId) => {
      const res = await fetch(`${stack.edge.url}/order`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/json", "idempotency-key": crypto.randomUUID(), authorization: `Bearer ${tokens.get(userId)}` },
        body: JSON.stringify({ productId, userId }),
      });
      if (res.status !== 200) {
        unexpected.push(res.status);
        return void (await res.body?.cancel());
      }
      const { orderId, holdExpiresAt } = (await res.json()) as { orderId: string; holdExpiresAt: string };
      // The shop's confirmation, fired around the expiry: before it by Redis' clock it pays, after it the hold is gone.
      const fireAt = Date.parse(holdExpiresAt) - AIM_MS + (Math.random() * 2 - 1) * AROUND_MS;
      races.push(
        sleep(Math.max(0, fireAt - Date.now())).then(async () => {
          const pay = await fetch(`${stack.edge.url}/sales/${productId}/orders/${orderId}/pay`, { method: "POST", headers: shop });
          return { orderId, status: pay.status, told: ((await pay.json()) as { status: string }).status };
        }),
      );
    });
    expect(unexpected).toEqual([]);
    const results = await Promise.all(races);

    expect(results.filter((r) => !((r.status === 200 && r.told === "paid") || (r.status === 409 && r.told === "expired")))).toEqual([]);
    const paid = results.filter((r) => r.told === "paid").length;
    // A race, not a formality: both outcomes happen.
    expect(paid).toBeGreaterThan(ORDERS * 0.05);
    expect(paid).toBeLessThan(ORDERS * 0.95);

    // Once drained, every layer agrees (the expiries arrive through the relay).
    const deadline = Date.now() + 120_000;
    let report: AuditReport = await audit(targets, productId);
    while (!auditClean(report) && Date.now() < deadline) {
      await sleep(1_000);
      report = await audit(targets, productId);
    }
    expect(report).toMatchObject({
      redis: { initial: ORDERS, held: 0, paid, released: ORDERS - paid, remaining: ORDERS - paid, acceptedOrders: ORDERS },
      kafka: { distinctOrders: ORDERS, distinctStatuses: ORDERS },
      postgres: { orders: ORDERS, units: paid, byStatus: { held: 0, paid, expired: ORDERS - paid }, stock: ORDERS - paid },
      oversold: 0,
      lost: 0,
      duplicates: 0,
      stockConsistent: true,
      holds: { redisBalanced: true, heldAgrees: true, paidAndReleased: 0, statusMismatches: 0 },
    });
    expect(auditClean(report)).toBe(true);

    // Each order once, with the status its confirmation was told, and one transition to it.
    const { rows } = await db.query<{ order_id: string; status: string; transitions: string[] }>(
      `select o.order_id, o.status, array_agg(t.status) as transitions
         from orders o join sales s using (sale_id) left join order_transitions t using (order_id)
        where s.product_id = $1 and s.sale_id = $2 group by o.order_id, o.status`,
      [productId, report.saleId],
    );
    const told = new Map(results.map((r) => [r.orderId, r.told]));
    expect(rows).toHaveLength(ORDERS);
    expect(rows.filter((r) => told.get(r.order_id) !== r.status || r.transitions.length !== 1 || r.transitions[0] !== r.status)).toEqual([]);
  });
});
