import { setTimeout as sleep } from "node:timers/promises";
import { Pool } from "undici";
import type { AttackRoute } from "./routes";

export interface FloodOptions {
  requests: number;
  connections: number;
  /** Spread the requests evenly over this many ms (beside a crowd); absent: as fast as the connections go. */
  spreadMs?: number;
  onProgress?: (done: number) => void;
}

export interface FloodResult {
  key: string;
  name: string;
  requests: number;
  /** Answers by status. */
  statuses: Record<string, number>;
  /** Answers other than the route's expected one. */
  unexpected: number;
  /** Requests with no answer (connection errors), with a few reasons. */
  errors: number;
  errorSamples: string[];
  seconds: number;
}

/** `requests` requests of one route through keep-alive connections: what an attacker's script sends. */
export async function flood(base: URL, route: AttackRoute, o: FloodOptions): Promise<FloodResult> {
  const pool = new Pool(base.origin, { connections: o.connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const statuses: Record<string, number> = {};
  const errorSamples: string[] = [];
  let errors = 0;
  let done = 0;
  let next = 0;
  const t0 = performance.now();
  const one = async (n: number) => {
    try {
      const r = route.request(n);
      const res = await pool.request({ method: r.method, path: r.path, headers: r.headers, ...(r.body !== undefined ? { body: r.body } : {}) });
      await res.body.dump();
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
    } catch (error) {
      errors++;
      if (errorSamples.length < 5) errorSamples.push(error instanceof Error ? error.message : String(error));
    }
    done++;
    if (done % 100 === 0 || done === o.requests) o.onProgress?.(done);
  };
  try {
    if (o.spreadMs !== undefined) {
      const spread = o.spreadMs;
      await Promise.all(
        Array.from({ length: o.requests }, async (_, n) => {
          await sleep(Math.max(0, t0 + (n * spread) / o.requests - performance.now()));
          await one(n);
        }),
      );
    } else {
      const worker = async () => {
        for (let n = next++; n < o.requests; n = next++) await one(n);
      };
      await Promise.all(Array.from({ length: o.connections }, worker));
    }
  } finally {
    await pool.close();
  }
  const answered = Object.values(statuses).reduce((a, b) => a + b, 0);
  return {
    key: route.key,
    name: route.name,
    requests: o.requests,
    statuses,
    unexpected: answered - (statuses[route.expected] ?? 0),
    errors,
    errorSamples,
    seconds: (performance.now() - t0) / 1000,
  };
}
