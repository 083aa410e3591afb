import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { runWrk, wrkAvailable } from "../src/bench/wrk";
import { luaTemplate, parseWrkOutput, RESULT_MARKER, wrkScript } from "../src/bench/wrk-script";

describe("wrk script", () => {
  it("turns a template into a Lua expression over sub, token and n", () => {
    expect(luaTemplate("run-{n}")).toBe('"run-" .. n');
    expect(luaTemplate("Bearer {token}")).toBe('"Bearer " .. token');
    expect(luaTemplate('{"productId":"p","userId":"{sub}"}')).toBe('"{\\"productId\\":\\"p\\",\\"userId\\":\\"" .. sub .. "\\"}"');
    expect(luaTemplate("")).toBe('""');
  });

  it("formats a request without placeholders once", () => {
    expect(wrkScript({ method: "GET", path: "/", headers: {} })).toContain("if not fixed then fixed = build() end");
    expect(wrkScript({ method: "GET", path: "/", headers: { k: "{n}" } })).toContain("return build()");
  });

  it("refuses a template naming a buyer without buyers", () => {
    expect(() => wrkScript({ method: "POST", path: "/order", headers: { authorization: "Bearer {token}" } })).toThrow(/no buyers/);
  });

  it("parses the result line, in ms, with the status codes", () => {
    const out = `Running 5s test @ http://127.0.0.1:1\n  1 threads and 32 connections\n${RESULT_MARKER}{"requests":10000,"sent":10031,"durationUs":5000000,"errors":{"connect":0,"read":2,"write":0,"timeout":1},"latencyUs":{"p50":1500,"p90":2500,"p99":9050,"max":20000,"mean":1600},"codes":{"409":9990,"200":10}}\n`;
    const r = parseWrkOutput(out);
    expect(r).toMatchObject({ requests: 10_000, sent: 10_031, seconds: 5, rps: 2_000, errors: 2, timeouts: 1, statusCodes: { "409": 9_990, "200": 10 } });
    expect(r.latencyMs).toEqual({ p50: 1.5, p90: 2.5, p99: 9.1, max: 20, mean: 1.6 });
  });

  it("throws when wrk printed no result", () => {
    expect(() => parseWrkOutput("unable to connect to 127.0.0.1:1 Connection refused\n")).toThrow(/no result line/);
  });

  // The generated Lua against a real wrk: per-request headers and bodies, buyers rotated, status codes counted.
  it.skipIf(!wrkAvailable())("sends distinct keys, rotates buyers and counts statuses with the real wrk", async () => {
    const seen: { key: string; auth: string; body: string }[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        seen.push({ key: String(req.headers["idempotency-key"]), auth: String(req.headers.authorization), body });
        res.statusCode = seen.length % 2 ? 200 : 409;
        res.end("x");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    try {
      const run = await runWrk(
        new URL(`http://127.0.0.1:${port}`),
        {
          method: "POST",
          path: "/order",
          headers: { "content-type": "application/json", "idempotency-key": "k-{n}", authorization: "Bearer {token}" },
          body: '{"userId":"{sub}"}',
          buyers: [
            { sub: "alice", token: "ta" },
            { sub: "bob", token: "tb" },
          ],
        },
        // Two seconds: the CPU window (the steady 1.2 s) sees wrk at work, whatever the machine's timing.
        { seconds: 2, connections: 2 },
      );
      expect(run.result.requests).toBeGreaterThan(10);
      expect((run.result.statusCodes["200"] ?? 0) + (run.result.statusCodes["409"] ?? 0)).toBe(run.result.requests);
      expect(new Set(seen.map((s) => s.key)).size).toBe(seen.length);
      expect(new Set(seen.map((s) => `${s.auth} ${s.body}`))).toEqual(new Set(['Bearer ta {"userId":"alice"}', 'Bearer tb {"userId":"bob"}']));
      expect(run.cpu.cores["wrk (load gen)"]).toBeGreaterThanOrEqual(0);
    } finally {
      server.close();
    }
  });
});
