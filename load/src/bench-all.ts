/**
 * npm run bench: every benchmark, one after the other (they would skew each other on 2 cores),
 * then BENCHMARKS.md at the repository root with the measured figures, which the README links.
 * The file names the commit whose code produced it: a working tree with uncommitted changes is
 * refused (BENCH_ALLOW_DIRTY=1 runs anyway and says so in the file).
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { BILL_COMPONENTS, UPSTASH_PAYG_USD_PER_100K_COMMANDS, upstashCostUsd } from "@fluxgate/common";
import { fmtUsd, type BillJson } from "./bench/bill";
import { fluxgateHome, repoRoot } from "./bench/env";
import { challengeSection, type ChallengeBench } from "./bench-challenge";
import { crowdsSection, type CrowdsBench } from "./bench-crowds";
import { lotterySection, type LotteryBench } from "./bench-lottery";
import { fmtNumber as n, markdownRow as row } from "./bench/table";

const benches = ["bench:edge", "bench:crowds", "bench:pipeline", "bench:realpath", "bench:bill", "bench:challenge", "bench:lottery"] as const;
/** How busy the machine already was: every figure here shares its cores with whatever else runs. */
const loadAtStart = loadavg()[0]!;

const git = (...args: string[]) => {
  const r = spawnSync("git", args, { cwd: repoRoot, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout.trim();
};
/** The code the benches run: HEAD, and whether the working tree differs from it (BENCHMARKS.md itself aside). */
function codeVersion(): { commit: string; dirty: string[] } {
  const dirty = git("status", "--porcelain", "--untracked-files=no")
    .split("\n")
    .filter((l) => l && !l.endsWith("BENCHMARKS.md"));
  return { commit: git("rev-parse", "HEAD"), dirty };
}
const before = codeVersion();
if (before.dirty.length > 0 && process.env.BENCH_ALLOW_DIRTY !== "1") {
  console.error(`uncommitted changes (${before.dirty.join(", ")}): commit them so BENCHMARKS.md names the code that produced it, or set BENCH_ALLOW_DIRTY=1`);
  process.exit(1);
}

for (const bench of benches) {
  console.log(`\n=== npm run ${bench} ===`);
  const run = spawnSync("npm", ["run", "--silent", bench], { cwd: repoRoot, stdio: "inherit" });
  if (run.status !== 0) {
    console.error(`${bench} failed (exit ${run.status}): no report written`);
    process.exit(run.status ?? 1);
  }
}

type Target = { name: string; target?: string; wanted?: string; measured: string; pass?: boolean; ok?: boolean };
interface EdgePath {
  rps: number;
  ratioToHello: number;
  latencyMs: { p50: number; p99: number };
  redisCommandsPerRequest: number;
  workerdCpuMicrosPerRequest: number;
}
const read = <T>(name: string) => JSON.parse(readFileSync(join(fluxgateHome(), "bench", name), "utf8")) as T;
const edge = read<{
  startedAt: string;
  machine: { cores: number; cpu: string; node: string };
  build: { runtime: string };
  paths: Record<string, EdgePath>;
  sale: {
    stock: number;
    buyers: number;
    edgeRequests: number;
    redisCommands: number;
    redisCommandsPerEdgeRequest: number;
    accepted: number;
    durationMs: number;
  };
  targets: Target[];
}>("edge.json");
const bill = read<BillJson>("bill.json");
const pipeline = read<{
  at: string;
  drain: { orders: number; perSecond: number; startMs: number; firstCommitMs: number };
  naive: { perSecond: number; bound: string };
  ratio: number;
  latency: { rate: number; commitP50: number; commitP99: number };
  targets: Target[];
}>("pipeline.json");
const realpath = read<{
  at: string;
  settings: { rate: number; seconds: number };
  load: { rate: number; accepted: number };
  latencyMs: { p50: number; p99: number; max: number } | null;
  segments: Record<"acceptedToProduced" | "producedToPersisted", { p50: number; p99: number }>;
  target: Target;
}>("realpath.json");
const after = codeVersion();
if (after.commit !== before.commit) {
  console.error(`HEAD moved from ${before.commit} to ${after.commit} during the run: no report written`);
  process.exit(1);
}
const version = `commit \`${before.commit.slice(0, 12)}\`${before.dirty.length ? " **plus uncommitted changes** (BENCH_ALLOW_DIRTY)" : ""}`;

const targetRows = (targets: Target[]) => targets.map((t) => row([t.name, t.target ?? t.wanted ?? "", t.measured, (t.pass ?? t.ok) ? "✅" : "❌"]));

const md = `# Benchmarks

Produced by \`npm run bench\` from the code at ${version}, on ${edge.machine.cores} cores (${edge.machine.cpu}, Node ${edge.machine.node}), the whole
stack on the same machine; edge ${edge.startedAt.slice(0, 16).replace("T", " ")} UTC, pipeline ${pipeline.at.slice(0, 16).replace("T", " ")} UTC, real path ${realpath.at.slice(0, 16).replace("T", " ")} UTC.
The load generator, workerd and the pipeline share the cores; the 1-minute load average was ${n(loadAtStart, 1)} when this run began
(other work on the machine slows every figure, most of all the real path's, whose every hop waits for a core).

## Edge (\`npm run bench:edge\`, ${edge.build.runtime})

${row(["path", "requests/s", "× hello world", "p50", "p99", "Redis commands / request", "workerd CPU / request"])}
${row(["---", "---:", "---:", "---:", "---:", "---:", "---:"])}
${Object.entries(edge.paths)
  .map(([name, p]) =>
    row([
      name,
      n(p.rps),
      `${n(p.ratioToHello, 2)}×`,
      `${p.latencyMs.p50} ms`,
      `${p.latencyMs.p99} ms`,
      n(p.redisCommandsPerRequest, 4),
      `${n(p.workerdCpuMicrosPerRequest)} µs`,
    ]),
  )
  .join("\n")}

Whole oversubscribed sale: ${n(edge.sale.buyers)} browser-like buyers for ${n(edge.sale.stock)} units
(${n(edge.sale.buyers / edge.sale.stock)}×), polling the waiting room every second: ${n(edge.sale.edgeRequests)} edge requests,
${n(edge.sale.redisCommands)} Redis commands = **${n(edge.sale.redisCommandsPerEdgeRequest, 3)} per edge request**; ${n(edge.sale.accepted)} accepted, sale over in ${n(edge.sale.durationMs / 1000, 1)} s.

${row(["target", "wanted", "measured", ""])}
${row(["---", "---", "---", "---"])}
${targetRows(edge.targets).join("\n")}

${crowdsSection(read<CrowdsBench>("crowds.json"))}
## Pipeline (\`npm run bench:pipeline\`)

${row(["measure", "result"])}
${row(["---", "---:"])}
${row([`drain of a ${n(pipeline.drain.orders)}-order backlog, batch worker (clock from the worker's start() resolved: migrations + connect, ${n(pipeline.drain.startMs)} ms, outside; group join + first batch, ${n(pipeline.drain.firstCommitMs)} ms, inside)`, `${n(pipeline.drain.perSecond)} orders/s`])}
${row([`naive worker, one transaction per message (${pipeline.naive.bound})`, `${n(pipeline.naive.perSecond)} orders/s`])}
${row(["batch / naive", `${n(pipeline.ratio, 1)}×`])}
${row([`producer side: bench hands the order to its own producer → worker COMMIT, ${n(pipeline.latency.rate)} orders/s, p50 / p99 (no edge, no origin)`, `${pipeline.latency.commitP50} ms / ${pipeline.latency.commitP99} ms`])}
${row([`**real path**: edge → origin → Kafka → worker, PostgreSQL \`persisted_at − accepted_at\`, ${n(realpath.load.rate)} accepted orders/s (asked ${n(realpath.settings.rate)}/s for ${realpath.settings.seconds} s), p50 / p99`, realpath.latencyMs ? `**${realpath.latencyMs.p50} ms / ${realpath.latencyMs.p99} ms**` : "none persisted"])}
${row(["… of which accepted → produced (edge's waitUntil forward, origin, producer queue), p50 / p99", `${realpath.segments.acceptedToProduced.p50} ms / ${realpath.segments.acceptedToProduced.p99} ms`])}
${row(["… of which produced → persisted (broker, consumer fetch, batch), p50 / p99", `${realpath.segments.producedToPersisted.p50} ms / ${realpath.segments.producedToPersisted.p99} ms`])}

${row(["target", "wanted", "measured", ""])}
${row(["---", "---", "---", "---"])}
${targetRows([...pipeline.targets, realpath.target]).join("\n")}

## The Upstash bill (\`npm run bench:bill\`, ${bill.at.slice(0, 16).replace("T", " ")} UTC)

Every command each component sent to redis, counted the way Upstash bills (redis-cli MONITOR, attributed by connection
name: the edge through the bridge, the origin's forward confirmations, its relay), through the local stack as a user runs it.
The origin spends about two commands per second of selling whatever the number of orders, so its share per order shrinks
as the rate grows; idle, one blocking read per 25 s and one sweep per minute, however many sales are open.

${row(["measured", ...BILL_COMPONENTS.map((c) => (c === "forward" ? "origin forward" : c)), "total", `cost at $${UPSTASH_PAYG_USD_PER_100K_COMMANDS} / 100k`])}
${row(["---", ...BILL_COMPONENTS.map(() => "---:"), "---:", "---:"])}
${row([`billed commands per accepted order (${n(bill.orders.accepted)} orders at ${n(bill.orders.ordersPerSecond)}/s, drained)`, ...BILL_COMPONENTS.map((c) => n(bill.orders.perOrder[c]!, 3)), `**${n(bill.orders.perOrder.total!, 3)}**`, `${fmtUsd(upstashCostUsd(bill.orders.perOrder.total! * 1000))} per 1,000 orders`])}
${bill.idle.map((i) => row([`billed commands per second, idle, ${i.openSales} open sales (${i.registered} registered)`, ...BILL_COMPONENTS.map((c) => n(i.perSecond[c]!, 3)), `**${n(i.perSecond.total!, 3)}**`, `${fmtUsd(upstashCostUsd(i.perDay))} per day`])).join("\n")}

${row(["target", "wanted", "measured", ""])}
${row(["---", "---", "---", "---"])}
${targetRows(bill.targets).join("\n")}

${challengeSection(read<ChallengeBench>("challenge.json"))}
${lotterySection(read<LotteryBench>("lottery.json"))}
Reproduce: \`git checkout ${before.commit.slice(0, 12)} && npm run up && npm run bench\` (or \`npm run bench:edge\`, \`npm run bench:crowds\`, \`npm run bench:pipeline\`, \`npm run bench:realpath\`, \`npm run bench:bill\`, \`npm run bench:challenge\`, \`npm run bench:lottery\`); raw results in
\`.fluxgate/bench/*.json\`.
`;

writeFileSync(join(repoRoot, "BENCHMARKS.md"), md);
console.log(`\nwrote ${join(repoRoot, "BENCHMARKS.md")}`);
