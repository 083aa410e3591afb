/**
 * npm run demo: a whole flash sale in one command, on the local stack. A crowd that behaves like
 * browsers buys through the edge; mid-sale the worker is killed (kill -9) and brought back; then
 * the pipeline drains, the audit checks every layer, and a report with charts is written.
 * Exits 0 only when nothing was oversold, lost or duplicated.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import cliProgress from "cli-progress";
import { audit, ensureDevVars, runningDaemon, stackConfig, up, type AuditReport } from "@fluxgate/stack";
import { crowd as scenario, productIdFor } from "../scenarios.js";
import { edgeBindings } from "./bench/edge-api";
import { intEnv, readDevVars } from "./bench/env";
import { buildEdge, startWorker, type RunningWorker } from "./bench/worker-runtime";
import { runSale, type RequestRecord } from "./bench/sale";
import { BillMeter } from "./bench/bill";
import { monitorAvailable } from "./bench/monitor";
import { BILL_HEADER, billRows, renderDemoReport, type DemoRun } from "./report/demo-report";
import { table } from "./bench/table";
import { percentile, sortedAscending } from "./report/stats";

const config = stackConfig();
const runId = Date.now().toString(36);
const settings = {
  stock: intEnv("DEMO_STOCK", scenario.stock),
  // 10× the stock: the crowd, the edge and the whole pipeline share this machine's 2 cores (DEMO_BUYERS=20000 for 20×).
  buyers: intEnv("DEMO_BUYERS", scenario.stock * 10),
  ratePerSecond: intEnv("DEMO_RATE", scenario.ratePerSecond),
  // Twice the k6 crowd's arrival window: a deployed edge scales out, one workerd on 2 shared cores does not.
  arrivalSeconds: intEnv("DEMO_ARRIVAL_SECONDS", scenario.arrivalSeconds * 2),
  connections: intEnv("DEMO_CONNECTIONS", 64),
  /** Kill the worker once this share of the stock is sold. */
  killAtSoldShare: 0.3,
  /** ...and bring it back this much later. */
  downForMs: 3_000,
  /** After the drain, how long the bill of an idle system is measured. */
  idleSeconds: intEnv("DEMO_IDLE_SECONDS", 30),
};

async function main(): Promise<number> {
  console.log("Flux-Gate demo: bringing the stack up …");
  const state = await up(config, (line) => console.log(`  ${line}`));
  const miniflare = await edgeOnWorkerd(state);
  const edge = miniflare?.url ?? new URL(state.edge.url);
  const adminToken = ensureDevVars().get("ADMIN_TOKEN")!;
  const productId = productIdFor(scenario, runId);
  const billDir = join(config.home.root, "demo");
  mkdirSync(billDir, { recursive: true });
  const meter = monitorAvailable() ? await BillMeter.start(state.redis.url, billDir, "sale") : undefined;

  const init = await fetch(new URL("/init", edge), {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ productId, quantity: settings.stock, ratePerSecond: settings.ratePerSecond, burst: Math.max(1, Math.round(settings.ratePerSecond / 10)) }),
  });
  if (init.status !== 200) throw new Error(`POST /init answered ${init.status}: ${await init.text()}`);
  console.log(
    `\nSale ${productId}: ${settings.stock.toLocaleString("en")} units, ${settings.buyers.toLocaleString("en")} buyers ` +
      `(${Math.round(settings.buyers / settings.stock)}× the stock) arriving over ${settings.arrivalSeconds} s, admitted at ${settings.ratePerSecond}/s, through ${edge.origin}\n`,
  );

  const records: RequestRecord[] = [];
  const samples: DemoRun["samples"] = [];
  const events: DemoRun["events"] = [];
  const started = performance.now();
  const since = () => Math.round(performance.now() - started);
  let sold = 0;
  let chaos: Promise<void> | undefined;

  // The sale as the operator sees it, twice a second; it also decides when to pull the plug.
  const sampler = setInterval(() => {
    void fetch(new URL(`/sales/${productId}`, edge))
      .then((r) => r.json() as Promise<{ remaining: number; queued: number; sold: number }>)
      .then((s) => {
        samples.push({ t: since(), remaining: s.remaining, queued: s.queued });
        sold = s.sold;
        if (!chaos && sold >= settings.stock * settings.killAtSoldShare) chaos = killAndRestartWorker(events, since);
      })
      .catch(() => undefined);
  }, 500);

  const bar = new cliProgress.SingleBar(
    { format: "  crowd  {bar} {percentage}% | {value}/{total} buyers done | {requests} requests | sold {sold}/{stock} | {event}", hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(settings.buyers, 0, { requests: 0, sold: 0, stock: settings.stock, event: "" });
  const result = await runSale({
    base: edge,
    productId,
    buyers: settings.buyers,
    arrivalMs: settings.arrivalSeconds * 1000,
    pollMs: scenario.pollSeconds * 1000,
    connections: settings.connections,
    deadlineMs: 300_000,
    runId,
    onRequest: (r) => records.push(r),
    onProgress: (finished, requests) => bar.update(finished, { requests, sold, event: events.at(-1)?.label ?? "" }),
  });
  clearInterval(sampler);
  bar.stop();
  await chaos;

  console.log("\nWaiting for the pipeline to drain (Kafka → PostgreSQL) …");
  const report = await drained(state, productId);
  events.push({ t: since(), label: "drained" });
  let bill: DemoRun["bill"];
  if (meter) {
    const sale = await meter.stop();
    console.log(`Measuring the bill of an idle system for ${settings.idleSeconds} s …`);
    const idleMeter = await BillMeter.start(state.redis.url, billDir, "idle");
    await new Promise((r) => setTimeout(r, settings.idleSeconds * 1000));
    bill = { sale, idle: await idleMeter.stop() };
  }

  await miniflare?.dispose();
  const run: DemoRun = { productId, runId, settings, edge: miniflare ? "workerd via the Miniflare API" : "wrangler dev", result, records, samples, events, audit: report, bill };
  printSummary(run);
  const path = writeReport(run);
  console.log(`\nReport: ${path}`);
  const clean = report.oversold === 0 && report.lost === 0 && report.duplicates === 0;
  console.log(clean ? "\nOK: nothing oversold, lost or duplicated." : "\nFAILED: see the audit above.");
  return clean ? 0 : 1;
}

/**
 * The crowd goes to the same edge bundle `wrangler deploy` would upload, run on workerd through the
 * Miniflare API against this stack: `wrangler dev`'s proxy tops out near 1.8k requests/s on a
 * 2-core machine and would measure itself, not Flux-Gate. DEMO_EDGE=wrangler uses the stack's
 * `wrangler dev` instead.
 */
async function edgeOnWorkerd(state: Awaited<ReturnType<typeof up>>): Promise<RunningWorker | undefined> {
  if (process.env.DEMO_EDGE === "wrangler") return undefined;
  const dir = join(config.home.root, "demo");
  const built = await buildEdge(join(dir, "edge-bundle"));
  const stack = { redisUrl: state.redis.url, bridgeUrl: state.bridge.url, bridgeToken: state.bridge.token, originUrl: state.origin.url, edgeUrl: state.edge.url };
  return startWorker({ name: "flux-gate", scriptPath: built.scriptPath, bindings: edgeBindings(stack, readDevVars()), logPath: join(dir, "edge.log") });
}

async function killAndRestartWorker(events: DemoRun["events"], since: () => number): Promise<void> {
  const worker = runningDaemon(config.home, "worker");
  if (!worker) return;
  process.kill(-worker.pid, "SIGKILL");
  events.push({ t: since(), label: "worker killed (kill -9)" });
  await sleep(settings.downForMs);
  await up(config);
  events.push({ t: since(), label: "worker back" });
}

async function drained(state: Awaited<ReturnType<typeof up>>, productId: string): Promise<AuditReport> {
  const targets = { redisUrl: state.redis.url, databaseUrl: state.postgres.url, kafkaBrokers: state.kafka.brokers };
  const bar = new cliProgress.SingleBar({ format: "  drain  {bar} {value}/{total} orders in PostgreSQL", hideCursor: true }, cliProgress.Presets.shades_classic);
  let report = await audit(targets, productId);
  bar.start(report.redis.acceptedOrders, report.postgres.orders);
  const deadline = Date.now() + 120_000;
  while ((report.lost > 0 || !report.stockConsistent) && Date.now() < deadline) {
    await sleep(1000);
    report = await audit(targets, productId);
    bar.update(report.postgres.orders);
  }
  bar.stop();
  return report;
}

function printSummary(run: DemoRun): void {
  const orders = run.records.filter((r) => r.kind === "order" || r.kind === "order (retry)");
  const by = (status: number) => orders.filter((r) => r.status === status).map((r) => r.ms);
  const row = (label: string, ms: number[]) => {
    const sorted = sortedAscending(ms);
    return [label, sorted.length.toLocaleString("en"), `${(percentile(sorted, 50) || 0).toFixed(0)} ms`, `${(percentile(sorted, 99) || 0).toFixed(0)} ms`];
  };
  console.log("\nSummary");
  console.log(
    table([
      ["outcome", "requests", "p50", "p99"],
        row("attempts (POST /order)", orders.map((r) => r.ms)),
        row("accepted (200)", by(200)),
        row("queued (302)", by(302)),
        row("sold out / limit (409)", by(409)),
        row("waiting-room polls", run.records.filter((r) => r.kind === "status").map((r) => r.ms)),
    ]),
  );
  const a = run.audit;
  console.log(
    table([
      ["buyers", "bought", "told sold out", "unfinished", "oversold", "lost", "duplicates", "PostgreSQL stock"],
      [run.result.buyers, run.result.outcomes.bought, run.result.outcomes.sold_out, run.result.outcomes.unfinished, a.oversold, a.lost, a.duplicates, `${a.postgres.stock} (= ${a.redis.initial} − ${a.redis.sold})`],
    ]),
  );
  if (run.bill) console.log(table([BILL_HEADER, ...billRows(run)]));
  else console.log("(no redis-cli: the Upstash bill was not measured)");
}

function writeReport(run: DemoRun): string {
  const dir = join(config.home.root, "reports");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `demo-${run.runId}.html`);
  writeFileSync(path, renderDemoReport(run));
  copyFileSync(path, join(dir, "demo-latest.html"));
  return path;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`\ndemo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  },
);
