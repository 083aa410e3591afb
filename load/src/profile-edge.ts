/**
 * `npm run -w load profile:edge -- <path> [seconds]` — where workerd spends its CPU on one edge
 * path (sold-out | accepted | gate | hello), under the same autocannon flood as
 * `bench:edge`: a V8 CPU profile taken through Miniflare's inspector. Prints self and inclusive
 * time per function and writes the raw profile to .fluxgate/bench/<path>.cpuprofile (opens in
 * Chrome DevTools). The bundle is built unminified so functions keep their names. Profiling slows
 * the worker down; compare shares, not req/s.
 */
import { writeFileSync } from "node:fs";
import { forgetSales } from "@fluxgate/common";
import { Redis } from "ioredis";
import { createServer } from "node:net";
import { join } from "node:path";
import { flood } from "./bench/cannon";
import { edgeBindings, initSale, orderFlood, seedQueue } from "./bench/edge-api";
import { PATH_SALES } from "./bench/edge-floods";
import { ensureStack, fluxgateHome, intEnv, readDevVars } from "./bench/env";
import { Inspector, summarize } from "./bench/profile";
import { table } from "./bench/table";
import { buildEdge, startIsolates } from "./bench/edge-bundle";

const path = process.argv[2] ?? "accepted";
const seconds = Number(process.argv[3] ?? 5);
const connections = intEnv("BENCH_CONNECTIONS", 32);
if (!["sold-out", "accepted", "gate", "hello"].includes(path)) throw new Error(`unknown path ${path}: sold-out | accepted | gate | hello`);

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });

const outDir = join(fluxgateHome(), "bench");
const stack = await ensureStack((line) => process.stderr.write(`${line}\n`));
const vars = readDevVars();
// The one isolate behind the router (startIsolates names the copies edge-0…).
const name = "edge-0";
const worker =
  path === "hello"
    ? await startIsolates({
        isolates: 1,
        script: `export default { fetch() { return new Response("hello world") } }`,
        logPath: join(outDir, "workerd.log"),
        inspectorPort: await freePort(),
      })
    : await startIsolates({
        // One isolate: the profile is of the edge's own code.
        isolates: 1,
        // EDGE_BUNDLE=<index.js> profiles a bundle built (or patched) elsewhere, to A/B a change.
        scriptPath: process.env.EDGE_BUNDLE ?? (await buildEdge(join(outDir, "edge-bundle-profile"), { minify: false })).scriptPath,
        bindings: edgeBindings(stack, vars, "anonymous"),
        logPath: join(outDir, "workerd.log"),
        inspectorPort: await freePort(),
      });
const run = `p${Date.now().toString(36)}`;
const productId = `${run}-${path}`;
try {
  let f = { method: "GET" as const, path: "/" } as Parameters<typeof flood>[1];
  if (path === "sold-out") {
    await initSale(worker.url, vars.ADMIN_TOKEN!, { productId, ...PATH_SALES.soldOut });
    f = orderFlood(productId, run, false);
  } else if (path === "gate") {
    await initSale(worker.url, vars.ADMIN_TOKEN!, { productId, ...PATH_SALES.gate });
    await seedQueue(worker.url, productId, `${run}-seed`);
    f = orderFlood(productId, run, true);
  } else if (path === "accepted") {
    await initSale(worker.url, vars.ADMIN_TOKEN!, { productId, ...PATH_SALES.accepted });
    f = orderFlood(productId, run, true);
  }
  await flood(worker.url, path === "sold-out" || path === "hello" ? f : orderFlood(productId, `${run}-w`, true), { connections, seconds: 1 });
  const inspector = await Inspector.connect(await worker.mf.getInspectorURL(), name);
  const { result, profile } = await inspector.profile(() => flood(worker.url, f, { connections, seconds }));
  inspector.close();
  writeFileSync(join(outDir, `${path}.cpuprofile`), JSON.stringify(profile));
  const s = summarize(profile, 25);
  process.stdout.write(
    `\n${path}: ${Math.round(result.rps)} req/s while profiled, ${result.requests} requests; ${s.totalMs} ms of samples (${(s.totalMs / result.requests).toFixed(3)} ms per request)\n\n`,
  );
  process.stdout.write(`${table([["self time", "ms", "%"], ...s.selfMs.map((x) => [x.fn, x.ms, x.pct])])}\n\n`);
  process.stdout.write(`${table([["inclusive", "%"], ...s.inclusive.map((x) => [x.fn, x.pct])])}\n\n`);
  process.stdout.write(`${table([["file", "%"], ...s.byFile.slice(0, 10).map((x) => [x.file, x.pct])])}\n`);
} finally {
  await worker.dispose();
  // Like the bench: the profiled sale leaves no keys and leaves the relay's outbox registry.
  if (path !== "hello") {
    const redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: 1 });
    await forgetSales(redis, [productId]).catch(() => undefined);
    await redis.quit().catch(() => redis.disconnect());
  }
}
