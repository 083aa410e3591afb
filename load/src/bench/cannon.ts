import type { EventEmitter } from "node:events";
import autocannon from "autocannon";

/** One request template; `vary(n)` makes the n-th request distinct (body and headers). */
export interface Flood {
  method: "GET" | "POST";
  path: string;
  headers?: Record<string, string>;
  body?: string;
  vary?: (n: number) => { headers: Record<string, string>; body: string };
}

export interface CannonResult {
  /** Responses received. */
  requests: number;
  /** Requests written, including the few still in flight when the run stopped (the edge still serves those). */
  sent: number;
  seconds: number;
  rps: number;
  statusCodes: Record<string, number>;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  errors: number;
  timeouts: number;
}

/**
 * Floods `base` with autocannon's programmatic API, in this process, as fast as it is answered
 * (a steady rate is bench/paced.ts: autocannon's rate limit sends each second's share at once). A fixed request is
 * serialized once by autocannon; a varied one (distinct userId + Idempotency-Key) is rebuilt
 * per request in setupRequest, which costs the load generator a little CPU.
 */
export async function flood(
  base: URL,
  f: Flood,
  options: {
    connections: number;
    seconds: number;
    amount?: number;
    onTick?: (done: number) => void;
  },
): Promise<CannonResult> {
  let n = 0;
  const request: autocannon.Request = {
    method: f.method,
    path: f.path,
    headers: f.headers ?? {},
    ...(f.body !== undefined ? { body: f.body } : {}),
    ...(f.vary
      ? {
          setupRequest: (req: autocannon.Request) => {
            const v = f.vary!(n++);
            return { ...req, headers: { ...req.headers, ...v.headers }, body: v.body };
          },
        }
      : {}),
  };
  let done = 0;
  const r = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: base.origin,
        connections: options.connections,
        // A fixed amount ends only once every request got its response: nothing is cut in flight,
        // so what Redis saw in the window belongs exactly to the requests counted.
        ...(options.amount ? { amount: options.amount } : { duration: options.seconds }),
        pipelining: 1,
        timeout: 10,
        requests: [request],
      },
      (error: unknown, result: autocannon.Result) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(result)),
    );
    // "tick" (once a second) carries the requests completed in that second; the types omit it.
    (instance as unknown as EventEmitter).on("tick", (t: { counter: number }) => {
      done += t.counter;
      options.onTick?.(done);
    });
  });
  const statusCodes: Record<string, number> = {};
  for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = (s as { count?: number }).count ?? 0;
  // requests.total counts completed responses; dividing by the real duration avoids the 1 s sampling of requests.average.
  const requests = r.requests.total;
  return {
    requests,
    sent: r.requests.sent ?? requests,
    seconds: r.duration,
    rps: requests / r.duration,
    statusCodes,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: r.latency.average },
    errors: r.errors,
    timeouts: r.timeouts,
  };
}
