/**
 * `npm run audit`'s verdict on the running stack: a sale whose PostgreSQL stock disagrees with what
 * the edge sold fails the audit, even with nothing oversold, lost or duplicated.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { saleKeys } from "@fluxgate/common";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { repoRoot } from "../src/home";

const run = promisify(execFile);
const stack = inject("stack");
const productId = `audit-test-${Date.now().toString(36)}`;
const saleId = `${productId}-sale`;
let redis: Redis;
let db: pg.Client;

/** `npm run audit -- <productId>` as a user runs it: its exit code and its JSON. */
async function auditCli(): Promise<{ code: number; report: { stockConsistent: boolean; lost: number; oversold: number; duplicates: number } }> {
  try {
    const { stdout } = await run(process.execPath, ["--import", "tsx", join(repoRoot, "stack/src/audit-cli.ts"), productId], {
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
  await db?.query("DELETE FROM sales WHERE sale_id = $1", [saleId]);
  await db?.end();
  await redis?.del(saleKeys(productId).sale);
  redis?.disconnect();
});

describe("npm run audit", { timeout: 120_000 }, () => {
  it("exits 0 when every layer agrees", async () => {
    const { code, report } = await auditCli();
    expect(report).toMatchObject({ oversold: 0, lost: 0, duplicates: 0, stockConsistent: true });
    expect(code).toBe(0);
  });

  it("exits 1 when PostgreSQL's stock is not initial − sold, though nothing was lost or duplicated", async () => {
    await db.query("UPDATE sales SET stock = 9 WHERE sale_id = $1", [saleId]);
    const { code, report } = await auditCli();
    expect(report).toMatchObject({ oversold: 0, lost: 0, duplicates: 0, stockConsistent: false });
    expect(code).toBe(1);
  });
});
