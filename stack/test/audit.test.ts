/**
 * `npm run audit`'s verdict on the running stack: a sale whose PostgreSQL stock disagrees with what
 * the edge sold fails the audit, even with nothing oversold, lost or duplicated.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { buyerKey, IdemStatus, saleKeys, type OrderMessage } from "@fluxgate/common";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { repoRoot } from "../src/home";

const run = promisify(execFile);
const stack = inject("stack");
const productId = `audit-test-${Date.now().toString(36)}`;
const saleId = `${productId}-sale`;
/** A sale of 10 restocked with 5, of which 12 sold: more than its initial stock, none oversold. */
const restocked = { productId: `${productId}-restocked`, saleId: `${productId}-restocked-sale`, initial: 10, added: 5, sold: 12 };
/** A sale of 10 with holds: 3 paid, 2 held, 2 expired and 1 cancelled by its buyer, so 5 free. */
const withHolds = { productId: `${productId}-holds`, saleId: `${productId}-holds-sale`, paid: 3, held: 2, expired: 2, cancelled: 1 };
let redis: Redis;
let db: pg.Client;

/** `npm run audit -- <productId>` as a user runs it: its exit code and its JSON. */
async function auditCli(product = productId): Promise<{
  code: number;
  report: { stockConsistent: boolean; lost: number; oversold: number; duplicates: number; holds: Record<string, boolean | number> };
}> {
  try {
    const { stdout } = await run(process.execPath, ["--import", "tsx", join(repoRoot, "stack/src/audit-cli.ts"), product], {
      cwd: repoRoot,
      timeout: 60_000,
    });
    return { code: 0, report: JSON.parse(stdout) };
  } catch (error) {
    const e = error as { code: number; stdout: string };
    return { code: e.code, report: JSON.parse(e.stdout) };
  }
}

beforeAll(async () => {
  redis = new Redis(stack.redis.url);
  db = new pg.Client({ connectionString: stack.postgres.url });
  await db.connect();
  // A sale of 10 with nothing sold yet, at the edge and in PostgreSQL.
  await redis.hset(saleKeys(productId).sale, { saleId, quantity: 10, remaining: 10 });
  await db.query("INSERT INTO sales (sale_id, product_id, initial_stock, stock, per_user_limit, started_at) VALUES ($1, $2, 10, 10, 1, now())", [
    saleId,
    productId,
  ]);
});

afterAll(async () => {
  await db?.query("DELETE FROM order_transitions WHERE order_id LIKE $1", [`${withHolds.saleId}-%`]);
  await db?.query("DELETE FROM orders WHERE sale_id = ANY($1)", [[restocked.saleId, withHolds.saleId]]);
  await db?.query("DELETE FROM sales WHERE sale_id = ANY($1)", [[saleId, restocked.saleId, withHolds.saleId]]);
  await db?.end();
  await redis?.del(saleKeys(productId).sale, ...Object.values(saleKeys(restocked.productId)), ...Object.values(saleKeys(withHolds.productId)));
  redis?.disconnect();
});

describe("npm run audit", { timeout: 120_000 }, () => {
  it("exits 0 when every layer agrees", async () => {
    const { code, report } = await auditCli();
    expect(report).toMatchObject({ oversold: 0, lost: 0, duplicates: 0, stockConsistent: true });
    expect(code).toBe(0);
  });

  it("exits 1 when PostgreSQL's stock is not initial + added − sold, though nothing was lost or duplicated", async () => {
    await db.query("UPDATE sales SET stock = 9 WHERE sale_id = $1", [saleId]);
    const { code, report } = await auditCli();
    expect(report).toMatchObject({ oversold: 0, lost: 0, duplicates: 0, stockConsistent: false });
    expect(code).toBe(1);
  });
});

describe("npm run audit on a restocked sale", { timeout: 120_000 }, () => {
  const { productId: product, saleId: id, initial, added, sold } = restocked;

  beforeAll(async () => {
    // The edge: 12 orders accepted, 3 units left of 10 + 5.
    const keys = saleKeys(product);
    await redis.hset(keys.sale, { saleId: id, quantity: initial, added, remaining: initial + added - sold });
    const orders: OrderMessage[] = Array.from({ length: sold }, (_, i) => ({
      v: 1,
      type: "order",
      orderId: `${id}-order-${i}`,
      saleId: id,
      productId: product,
      userId: `user-${i}`,
      quantity: 1,
      idempotencyKey: `key-${i}`,
      acceptedAt: Date.now(),
      sale: { quantity: initial, perUserLimit: 1, startedAt: Date.now(), added },
    }));
    await redis.hset(
      keys.idem,
      Object.fromEntries(orders.map((o) => [buyerKey(o.userId, o.idempotencyKey), `hash|${IdemStatus.accepted}|${JSON.stringify(o)}`])),
    );
    // PostgreSQL, as the worker leaves it once drained.
    await db.query(
      "INSERT INTO sales (sale_id, product_id, initial_stock, added_stock, stock, per_user_limit, started_at) VALUES ($1, $2, $3, $4, $5, 1, now())",
      [id, product, initial, added, initial + added - sold],
    );
    await db.query(
      `INSERT INTO orders (order_id, sale_id, product_id, user_id, quantity, idempotency_key, accepted_at)
       SELECT o.order_id, $2, $3, o.user_id, 1, o.key, now() FROM unnest($1::text[], $4::text[], $5::text[]) AS o(order_id, user_id, key)`,
      [orders.map((o) => o.orderId), id, product, orders.map((o) => o.userId), orders.map((o) => o.idempotencyKey)],
    );
  });

  it("exits 0 when initial + added = sold + remaining at the edge and PostgreSQL learned the added units", async () => {
    const { code, report } = await auditCli(product);
    expect(report).toMatchObject({
      redis: { initial, added, sold, remaining: 3 },
      postgres: { orders: sold, units: sold, initialStock: initial, addedStock: added, stock: 3 },
      oversold: 0,
      lost: 0,
      duplicates: 0,
      stockConsistent: true,
    });
    expect(code).toBe(0);
  });

  it("exits 1 when PostgreSQL's added stock is not the edge's", async () => {
    // Its stock still matches the edge's remaining: only the added units disagree.
    await db.query("UPDATE sales SET added_stock = added_stock + 1 WHERE sale_id = $1", [id]);
    const { code, report } = await auditCli(product);
    expect(report).toMatchObject({ redis: { added }, postgres: { addedStock: added + 1 }, oversold: 0, lost: 0, duplicates: 0, stockConsistent: false });
    expect(code).toBe(1);
  });
});

describe("npm run audit on a sale with holds", { timeout: 120_000 }, () => {
  const { productId: product, saleId: id } = withHolds;
  const states = [
    ...Array<string>(withHolds.paid).fill("paid"),
    ...Array<string>(withHolds.held).fill("held"),
    ...Array<string>(withHolds.expired).fill("expired"),
    ...Array<string>(withHolds.cancelled).fill("cancelled"),
  ];
  const orders: OrderMessage[] = states.map((_, i) => ({
    v: 1,
    type: "order",
    orderId: `${id}-order-${i}`,
    saleId: id,
    productId: product,
    userId: `user-${i}`,
    quantity: 1,
    idempotencyKey: `key-${i}`,
    acceptedAt: Date.now(),
    sale: { quantity: 10, perUserLimit: 1, startedAt: Date.now(), added: 0 },
    holdExpiresAt: Date.now() + 60_000,
  }));
  const paidOrder = orders[0]!.orderId;
  const heldOrder = orders[withHolds.paid]!.orderId;

  beforeAll(async () => {
    // The edge, as holds-lua.ts leaves it: the held orders' records, the key of a released one says how it ended.
    const keys = saleKeys(product);
    await redis.hset(keys.sale, { saleId: id, quantity: 10, remaining: 5, held: withHolds.held, paid: withHolds.paid, released: 3, holdMs: 60_000 });
    await redis.hset(keys.holdOrders, Object.fromEntries(orders.map((o, i) => [o.orderId, `${states[i]}|${JSON.stringify(o)}`])));
    await redis.hset(
      keys.idem,
      Object.fromEntries(
        orders.map((o, i) => [
          buyerKey(o.userId, o.idempotencyKey),
          `hash|${["paid", "held"].includes(states[i]!) ? IdemStatus.accepted : states[i]}|${JSON.stringify(o)}`,
        ]),
      ),
    );
    // PostgreSQL, as the worker leaves it once drained.
    await db.query(
      "INSERT INTO sales (sale_id, product_id, initial_stock, stock, per_user_limit, started_at, has_holds) VALUES ($1, $2, 10, 5, 1, now(), true)",
      [id, product],
    );
    await db.query(
      `INSERT INTO orders (order_id, sale_id, product_id, user_id, quantity, idempotency_key, accepted_at, hold_expires_at, status)
       SELECT o.order_id, $2, $3, o.user_id, 1, o.key, now(), now() + interval '1 minute', o.status
         FROM unnest($1::text[], $4::text[], $5::text[], $6::text[]) AS o(order_id, user_id, key, status)`,
      [orders.map((o) => o.orderId), id, product, orders.map((o) => o.userId), orders.map((o) => o.idempotencyKey), states],
    );
    const ended = orders.flatMap((o, i) => (states[i] === "held" ? [] : [[o.orderId, states[i]!]]));
    await db.query(
      `INSERT INTO order_transitions (order_id, status, by_label, at)
       SELECT t.order_id, t.status, CASE t.status WHEN 'paid' THEN 'shop' WHEN 'expired' THEN 'expiry' ELSE 'buyer' END, now()
         FROM unnest($1::text[], $2::text[]) AS t(order_id, status)`,
      [ended.map(([o]) => o), ended.map(([, t]) => t)],
    );
  });

  it("exits 0 when free + held + paid = initial at the edge and PostgreSQL holds the same orders in the same states", async () => {
    const { code, report } = await auditCli(product);
    expect(report).toMatchObject({
      redis: { initial: 10, remaining: 5, sold: 5, held: 2, paid: 3, released: 3, acceptedOrders: 8 },
      postgres: { orders: 8, units: 5, byStatus: { accepted: 0, held: 2, paid: 3, expired: 2, cancelled: 1 }, stock: 5 },
      oversold: 0,
      lost: 0,
      duplicates: 0,
      stockConsistent: true,
      holds: { redisBalanced: true, heldAgrees: true, paidAndReleased: 0, statusMismatches: 0 },
    });
    expect(code).toBe(0);
  });

  it("exits 0 when the operator cancelled a paid order (its units back, the shop refunds)", async () => {
    await db.query("INSERT INTO order_transitions (order_id, status, by_label, at) VALUES ($1, 'cancelled', 'operator', now())", [paidOrder]);
    await db.query("UPDATE orders SET status = 'cancelled' WHERE order_id = $1", [paidOrder]);
    await db.query("UPDATE sales SET stock = stock + 1 WHERE sale_id = $1", [id]);
    await redis.hset(saleKeys(product).holdOrders, paidOrder, `cancelled|${JSON.stringify(orders[0])}`);
    await redis.hset(saleKeys(product).sale, { paid: withHolds.paid - 1, remaining: 6, released: 4 });
    const { code, report } = await auditCli(product);
    expect(report).toMatchObject({ stockConsistent: true, holds: { redisBalanced: true, heldAgrees: true, paidAndReleased: 0, statusMismatches: 0 } });
    expect(code).toBe(0);
  });

  it("exits 1 when an order is both paid and expired", async () => {
    await db.query("INSERT INTO order_transitions (order_id, status, by_label, at) VALUES ($1, 'expired', 'expiry', now())", [orders[1]!.orderId]);
    const { code, report } = await auditCli(product);
    expect(report).toMatchObject({ oversold: 0, lost: 0, duplicates: 0, stockConsistent: true, holds: { paidAndReleased: 1, statusMismatches: 0 } });
    expect(code).toBe(1);
    await db.query("DELETE FROM order_transitions WHERE order_id = $1 AND status = 'expired'", [orders[1]!.orderId]);
  });

  it("exits 1 when PostgreSQL has a hold expired that the edge still holds, though its stock counts it free", async () => {
    await db.query("UPDATE orders SET status = 'expired' WHERE order_id = $1", [heldOrder]);
    await db.query("UPDATE sales SET stock = stock + 1 WHERE sale_id = $1", [id]);
    const { code, report } = await auditCli(product);
    expect(report).toMatchObject({ lost: 0, duplicates: 0, holds: { heldAgrees: false, statusMismatches: 1 } });
    expect(code).toBe(1);
  });
});
