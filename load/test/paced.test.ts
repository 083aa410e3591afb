import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { paced } from "../src/bench/paced";

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A server that notes when each request arrived and answers after `delayMs(n)` for the n-th one. */
async function recorder(delayMs: (n: number) => number): Promise<{ base: URL; arrivals: number[] }> {
  const arrivals: number[] = [];
  server = createServer((req, res) => {
    const n = arrivals.push(performance.now()) - 1;
    req.resume();
    setTimeout(() => res.end("ok"), delayMs(n));
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return { base: new URL(`http://127.0.0.1:${(server!.address() as AddressInfo).port}`), arrivals };
}

const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);

describe("paced: a steady rate, open loop", () => {
  it("spreads the requests evenly over the second instead of sending each second's share at once", async () => {
    const { base, arrivals } = await recorder(() => 0);
    const r = await paced(base, { method: "GET", path: "/" }, { rate: 50, amount: 40, connections: 16 });
    expect(r.statusCodes).toEqual({ 200: 40 });
    const g = gaps(arrivals);
    // 20 ms apart on average; autocannon's rate limit would put all 50 of a second within a few ms.
    expect((arrivals.at(-1)! - arrivals[0]!) / g.length).toBeGreaterThan(15);
    expect(g.filter((gap) => gap < 5).length).toBeLessThan(g.length / 4);
  });

  it("keeps sending while an answer is slow, and counts that answer's wait from when it was due", async () => {
    const { base, arrivals } = await recorder((n) => (n === 5 ? 300 : 0));
    const r = await paced(base, { method: "GET", path: "/" }, { rate: 50, amount: 20, connections: 16 });
    // The requests after the slow one arrived on time (a closed loop would have waited for it).
    expect(arrivals[10]! - arrivals[5]!).toBeLessThan(150);
    expect(r.latencyMs.max).toBeGreaterThanOrEqual(290);
    expect(r.latencyMs.p50).toBeLessThan(50);
  });
});
