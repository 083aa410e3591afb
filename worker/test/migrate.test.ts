/**
 * The schema: migrations that can run any number of times (and by two workers at once), a stock
 * that PostgreSQL itself keeps from going negative, and a committed dump that matches.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dumpSchema, SCHEMA_FILE } from "../scripts/dump-schema";
import { migrate, readMigrations } from "../src/migrate";
import { takeStock } from "../src/sql/takeStock";
import { DATABASE_URL, testLogger } from "./support";

const schema = `test_worker_migrate_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
const pools: pg.Pool[] = [];
const pool = () => {
  const p = new pg.Pool({ connectionString: DATABASE_URL, max: 2, options: `-c search_path=${schema}` });
  pools.push(p);
  return p;
};
let db: pg.Pool;

beforeAll(() => {
  db = pool();
});

afterAll(async () => {
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await Promise.all(pools.map((p) => p.end()));
});

describe("migrations", () => {
  it("apply once, however many workers start at the same time, and again changes nothing", async () => {
    const all = readMigrations().map((m) => m.name);
    expect(all[0]).toBe("000001_init");

    // Two workers starting at once on an empty schema: the advisory lock makes one wait.
    const [a, b] = await Promise.all([migrate(pool(), testLogger(), schema), migrate(pool(), testLogger(), schema)]);
    expect([...a, ...b].sort()).toEqual(all);

    expect(await migrate(db, testLogger(), schema)).toEqual([]);
    const { rows } = await db.query("SELECT id, name FROM migrations ORDER BY id");
    expect(rows).toEqual(all.map((name, i) => ({ id: i + 1, name })));
    const tables = await db.query("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", [schema]);
    expect(tables.rows.map((r) => r.table_name)).toEqual(["migrations", "order_transitions", "orders", "sale_events", "sales"]);
  });

  it("refuse a stock below zero or above the initial and added stock, whoever writes it", async () => {
    await db.query("INSERT INTO sales (sale_id, product_id, initial_stock, stock, per_user_limit, started_at) VALUES ('s1', 'p1', 3, 3, 1, now())");
    await expect(db.query("UPDATE sales SET stock = stock - 4 WHERE sale_id = 's1'")).rejects.toMatchObject({ code: "23514" });
    await expect(takeStock(db, [{ saleId: "s1", quantity: 4, version: 0 }])).rejects.toMatchObject({ code: "23514" });
    await expect(
      db.query("INSERT INTO sales (sale_id, product_id, initial_stock, stock, per_user_limit, started_at) VALUES ('s2', 'p1', 3, -1, 1, now())"),
    ).rejects.toMatchObject({ code: "23514" });
    await expect(db.query("UPDATE sales SET stock = 4 WHERE sale_id = 's1'")).rejects.toMatchObject({ code: "23514" });
    await expect(db.query("UPDATE sales SET stock = 5, added_stock = 1 WHERE sale_id = 's1'")).rejects.toMatchObject({ code: "23514" });
    await expect(db.query("UPDATE sales SET added_stock = -1 WHERE sale_id = 's1'")).rejects.toMatchObject({ code: "23514" });

    // A sale with holds may dip below 0 while a released unit, sold again, waits for its release (000004).
    await takeStock(db, [{ saleId: "s1", quantity: 1, version: 0, holds: true }]);
    await db.query("UPDATE sales SET stock = -1 WHERE sale_id = 's1'");
    await db.query("UPDATE sales SET stock = 3, has_holds = false, version = 0 WHERE sale_id = 's1'");

    // The optimistic update: a stale version changes nothing, the current one takes.
    expect(await takeStock(db, [{ saleId: "s1", quantity: 2, version: 7 }])).toEqual(new Set());
    expect(await takeStock(db, [{ saleId: "s1", quantity: 2, version: 0 }])).toEqual(new Set(["s1"]));
    const { rows } = await db.query("SELECT stock, version FROM sales WHERE sale_id = 's1'");
    expect(rows[0]).toEqual({ stock: 1, version: 1 });
  });

  it("match the committed schema dump (npm run -w worker schema:dump)", async (ctx) => {
    try {
      execFileSync("pg_dump", ["--version"]);
    } catch {
      ctx.skip("pg_dump is not installed (`npm test` installs it: stack/scripts/install-prereqs.sh)");
    }
    expect(await dumpSchema(DATABASE_URL)).toBe(readFileSync(SCHEMA_FILE, "utf8"));
  });
});
