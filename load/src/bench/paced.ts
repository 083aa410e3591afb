import { Pool } from "undici";
import { percentile, sortedAscending } from "../report/stats";
import type { CannonResult, Flood } from "./cannon";

/**
 * A steady rate, open loop: the n-th request is due at start + n / rate, evenly spaced, and goes
 * out then whether or not earlier ones were answered (up to `connections` at once; beyond that it
 * waits for a connection, and that wait counts). Each latency is measured from the request's due
 * time, not from when it was written, so a slow answer that delays the next sends shows in the
 * figures instead of hiding in a lower rate (no coordinated omission).
 *
 * autocannon's rate limit is not this: each connection sends its share of a second at the start
 * of the second and then pauses, so `overallRate: 145` is 145 requests at once, every second, and
 * the server drains a burst (measured: client p50 210 ms at 145/s that way, 10 ms spaced).
 */
export async function paced(
  base: URL,
  f: Flood,
  options: { rate: number; amount: number; connections: number; onTick?: (done: number) => void },
): Promise<CannonResult> {
  const pool = new Pool(base.origin, { connections: options.connections, pipelining: 1, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const intervalMs = 1000 / options.rate;
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  let errors = 0;
  let timeouts = 0;
  let sent = 0;
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  const tick = setInterval(() => options.onTick?.(latencies.length + errors + timeouts), 1000);

  const send = async (n: number, dueAt: number) => {
    const v = f.vary?.(n);
    try {
      const res = await pool.request({
        method: f.method,
        path: f.path,
        headers: { ...f.headers, ...v?.headers },
        body: v?.body ?? f.body ?? null,
      });
      await res.body.dump();
      statusCodes[res.statusCode] = (statusCodes[res.statusCode] ?? 0) + 1;
      latencies.push(performance.now() - dueAt);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") timeouts++;
      else errors++;
    }
  };

  try {
    while (sent < options.amount) {
      const now = performance.now();
      // Every request already due goes now (a late timer sends the ones it missed at once).
      while (sent < options.amount && start + sent * intervalMs <= now) {
        inFlight.push(send(sent, start + sent * intervalMs));
        sent++;
      }
      if (sent < options.amount) await new Promise((r) => setTimeout(r, Math.max(0, start + sent * intervalMs - performance.now())));
    }
    await Promise.all(inFlight);
  } finally {
    clearInterval(tick);
    await pool.close();
  }
  const seconds = (performance.now() - start) / 1000;
  const sorted = sortedAscending(latencies);
  const ms = (p: number) => Math.round(percentile(sorted, p));
  const mean = latencies.reduce((a, b) => a + b, 0) / (latencies.length || 1);
  return {
    requests: latencies.length,
    sent,
    seconds,
    rps: latencies.length / seconds,
    statusCodes,
    latencyMs: { p50: ms(50), p90: ms(90), p99: ms(99), max: Math.round(sorted.at(-1) ?? 0), mean: Math.round(mean) },
    errors,
    timeouts,
  };
}
