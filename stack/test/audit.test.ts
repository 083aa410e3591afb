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
let redis: Redis;
let db: pg.Client;

/** `npm run audit -- <productId>` as a user runs it: its exit code and its JSON. */
async function auditCli(
  product = productId,
): Promise<{ code: number; report: { stockConsistent: boolean; lost: number; oversold: number; duplicates: number } }> {
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
  await db?.query("DELETE FROM orders WHERE sale_id = $1", [restocked.saleId]);
  await db?.query("DELETE FROM sales WHERE sale_id = ANY($1)", [[saleId, restocked.saleId]]);
  await db?.end();
  await redis?.del(saleKeys(productId).sale, ...Object.values(saleKeys(restocked.productId)));
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
