import pg from "pg";
import type { Logger } from "pino";
import type { WorkerConfig } from "./config";

/** Queries take a client or the pool alike. */
export type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

/**
 * The worker's pool. With DATABASE_SCHEMA every connection's search_path is that schema, so the
 * migrations and the queries use unqualified names and a test or bench gets tables of its own.
 */
export function createPool(config: Pick<WorkerConfig, "DATABASE_URL" | "DATABASE_SCHEMA">, logger: Logger, max: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    max,
    application_name: "fluxgate-worker",
    ...(config.DATABASE_SCHEMA ? { options: `-c search_path=${config.DATABASE_SCHEMA}` } : {}),
  });
  pool.on("error", (err) => logger.warn({ err }, "idle postgres client error"));
  return pool;
}

/** Runs `fn` in one transaction on one client: COMMIT when it resolves, ROLLBACK when it throws. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    try {
      await client.query("ROLLBACK");
    } catch {
      broken = true; // the connection is gone: do not give it back to the pool
    }
    throw error;
  } finally {
    client.release(broken);
  }
}
