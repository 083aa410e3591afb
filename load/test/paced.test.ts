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

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

describe("paced: a steady rate, open loop", () => {
  it("spreads the requests evenly over the second instead of sending each second's share at once", async () => {
    const { base, arrivals } = await recorder(() => 0);
    const r = await paced(base, { method: "GET", path: "/" }, { rate: 50, amount: 40, connections: 16 });
    expect(r.statusCodes).toEqual({ 200: 40 });
    // 20 ms apart; autocannon's rate limit put all of a second's 50 within a few ms. (A busy test
    // machine's late timer sends a few at once: the span and the median gap stay.)
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThan(0.8 * 39 * 20);
    expect(median(gaps(arrivals))).toBeGreaterThan(10);
  });

  it("counts a request's wait from when it was due: those stuck behind a slow answer show it", async () => {
    // One connection: the requests due while the 6th is answered (300 ms) wait for it.
    const { base } = await recorder((n) => (n === 5 ? 300 : 0));
    const r = await paced(base, { method: "GET", path: "/" }, { rate: 50, amount: 20, connections: 1 });
    expect(r.statusCodes).toEqual({ 200: 20 });
    // Timed from the write, only the slow one would pass 200 ms; from the due time, the next ones do too.
    expect(r.latencyMs.p90).toBeGreaterThanOrEqual(200);
    expect(r.latencyMs.max).toBeGreaterThanOrEqual(290);
  });
});
