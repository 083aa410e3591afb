import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type pg from "pg";
import type { Logger } from "pino";

const MIGRATIONS_DIR = fileURLToPath(new URL("../migrations/", import.meta.url));

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

/** `000001_init.sql` → { id: 1, name: "000001_init" }, in order; a gap or a duplicate number is a mistake. */
export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const migrations = readdirSync(dir)
    .filter((file) => file.endsWith(".sql"))
    .sort()
    .map((file) => {
      const match = /^(\d{6})_[a-z0-9_]+\.sql$/.exec(file);
      if (!match) throw new Error(`migration ${file}: name it NNNNNN_some_name.sql`);
      return { id: Number(match[1]), name: file.slice(0, -4), sql: readFileSync(`${dir}/${file}`, "utf8") };
    });
  migrations.forEach((m, i) => {
    if (m.id !== i + 1) throw new Error(`migration ${m.name}: expected number ${i + 1}`);
  });
  return migrations;
}

/** Two int4 keys for pg_advisory_lock: ours, and the schema's, so workers on other schemas never wait for each other. */
const LOCK_CLASS = 0x46475744; // "FGWD"

/**
 * Applies the migrations not applied yet, each in its own transaction together with its row in
 * `migrations`. A session advisory lock serialises workers starting at once: the second one waits,
 * then finds everything applied. Creates DATABASE_SCHEMA when given. Returns the names it applied.
 */
export async function migrate(pool: pg.Pool, logger: Logger, schema?: string, migrations = readMigrations()): Promise<string[]> {
  const client = await pool.connect();
  const applied: string[] = [];
  let broken = false;
  try {
    await client.query("SELECT pg_advisory_lock($1, hashtext($2))", [LOCK_CLASS, schema ?? "(default)"]);
    try {
      if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS migrations (
           id integer PRIMARY KEY,
           name text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const { rows } = await client.query<{ id: number }>("SELECT id FROM migrations");
      const done = new Set(rows.map((r) => r.id));
      for (const migration of migrations) {
        if (done.has(migration.id)) continue;
        await client.query("BEGIN");
        try {
          await client.query(migration.sql);
          await client.query("INSERT INTO migrations (id, name) VALUES ($1, $2)", [migration.id, migration.name]);
          await client.query("COMMIT");
        } catch (error) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw new Error(`migration ${migration.name} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        }
        applied.push(migration.name);
        logger.info({ migration: migration.name, schema }, "migration applied");
      }
    } finally {
      await client.query("SELECT pg_advisory_unlock($1, hashtext($2))", [LOCK_CLASS, schema ?? "(default)"]).catch(() => {
        broken = true; // closing the session releases the lock
      });
    }
  } finally {
    client.release(broken);
  }
  return applied;
}
