/**
 * npm run bench: every benchmark, one after the other (they would skew each other on 2 cores),
 * then BENCHMARKS.md at the repository root with the measured figures, which the README links.
 * The file names the commit whose code produced it: a working tree with uncommitted changes is
 * refused (BENCH_ALLOW_DIRTY=1 runs anyway and says so in the file).
 *
 * `npm run bench -- edge realpath` runs only those benches and replaces only their sections of
 * BENCHMARKS.md (each of those names its own commit and time), leaving the others as they were.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { BILL_COMPONENTS, UPSTASH_PAYG_USD_PER_100K_COMMANDS, upstashCostUsd } from "@fluxgate/common";
import { fmtUsd, type BillJson } from "./bench/bill";
import type { EdgeJson } from "./bench/edge-report";
import { edgeSection } from "./bench/edge-section";
import { fluxgateHome, repoRoot } from "./bench/env";
import { codeVersion } from "./bench/git";
import { realpathSection, type RealpathJson } from "./bench/realpath-section";
import { spliceSections } from "./bench/splice";
import { attackSection, type AttackBench } from "./bench-attack";
import { challengeSection, type ChallengeBench } from "./bench-challenge";
import { crowdsSection, type CrowdsBench } from "./bench-crowds";
import { lotterySection, type LotteryBench } from "./bench-lottery";
import { fmtNumber as n, markdownRow as row } from "./bench/table";

const allBenches = [
  "bench:edge",
  "bench:crowds",
  "bench:pipeline",
  "bench:realpath",
  "bench:bill",
  "bench:challenge",
  "bench:lottery",
  "bench:attack",
] as const;
type Bench = (typeof allBenches)[number];
const asked = process.argv.slice(2).map((a) => (a.startsWith("bench:") ? a : `bench:${a}`));
const unknown = asked.filter((a) => !(allBenches as readonly string[]).includes(a));
if (unknown.length) {
  console.error(`unknown bench ${unknown.join(", ")}: one of ${allBenches.map((b) => b.slice(6)).join(", ")}`);
  process.exit(1);
}
const benches: readonly Bench[] = asked.length ? (asked as Bench[]) : allBenches;
/** How busy the machine already was: every figure here shares its cores with whatever else runs. */
const loadAtStart = loadavg()[0]!;

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
const read = <T>(name: string) => JSON.parse(readFileSync(join(fluxgateHome(), "bench", name), "utf8")) as T;
const readIfThere = <T>(name: string) => (existsSync(join(fluxgateHome(), "bench", name)) ? read<T>(name) : undefined);

const after = codeVersion();
if (after.commit !== before.commit) {
  console.error(`HEAD moved from ${before.commit} to ${after.commit} during the run: no report written`);
  process.exit(1);
}
const version = `commit \`${before.commit.slice(0, 12)}\`${before.dirty.length ? " **plus uncommitted changes** (BENCH_ALLOW_DIRTY)" : ""}`;

const targetRows = (targets: Target[]) => targets.map((t) => row([t.name, t.target ?? t.wanted ?? "", t.measured, (t.pass ?? t.ok) ? "✅" : "❌"]));

function pipelineSection(): string {
  const pipeline = read<{
    drain: { orders: number; perSecond: number; startMs: number; firstCommitMs: number };
    naive: { perSecond: number; bound: string };
    ratio: number;
    latency: { rate: number; commitP50: number; commitP99: number };
    targets: Target[];
  }>("pipeline.json");
  return `## Pipeline (\`npm run bench:pipeline\`)

${row(["measure", "result"])}
${row(["---", "---:"])}
${row([`drain of a ${n(pipeline.drain.orders)}-order backlog, batch worker (clock from the worker's start() resolved: migrations + connect, ${n(pipeline.drain.startMs)} ms, outside; group join + first batch, ${n(pipeline.drain.firstCommitMs)} ms, inside)`, `${n(pipeline.drain.perSecond)} orders/s`])}
${row([`naive worker, one transaction per message (${pipeline.naive.bound})`, `${n(pipeline.naive.perSecond)} orders/s`])}
${row(["batch / naive", `${n(pipeline.ratio, 1)}×`])}
${row([`producer side: bench hands the order to its own producer → worker COMMIT, ${n(pipeline.latency.rate)} orders/s, p50 / p99 (no edge, no origin)`, `${pipeline.latency.commitP50} ms / ${pipeline.latency.commitP99} ms`])}

${row(["target", "wanted", "measured", ""])}
${row(["---", "---", "---", "---"])}
${targetRows(pipeline.targets).join("\n")}
`;
}

function billSection(): string {
  const bill = read<BillJson>("bill.json");
  return `## The Upstash bill (\`npm run bench:bill\`, ${bill.at.slice(0, 16).replace("T", " ")} UTC)

Every command each component sent to redis, counted the way Upstash bills (redis-cli MONITOR, attributed by connection
name: the edge through the bridge, the origin's forward confirmations, its relay), through the local stack as a user runs it.
The origin spends about two commands per second of selling whatever the number of orders, so its share per order shrinks
as the rate grows; idle, one blocking read per 25 s and one sweep per minute, however many sales are open.

${row(["measured", ...BILL_COMPONENTS.map((c) => (c === "forward" ? "origin forward" : c)), "total", `cost at $${UPSTASH_PAYG_USD_PER_100K_COMMANDS} / 100k`])}
${row(["---", ...BILL_COMPONENTS.map(() => "---:"), "---:", "---:"])}
${row([`billed commands per accepted order (${n(bill.orders.accepted)} orders at ${n(bill.orders.ordersPerSecond)}/s, drained)`, ...BILL_COMPONENTS.map((c) => n(bill.orders.perOrder[c]!, 3)), `**${n(bill.orders.perOrder.total!, 3)}**`, `${fmtUsd(upstashCostUsd(bill.orders.perOrder.total! * 1000))} per 1,000 orders`])}
${bill.idle.map((i) => row([`billed commands per second, idle, ${i.openSales} open sales (${i.registered} registered)`, ...BILL_COMPONENTS.map((c) => n(i.perSecond[c]!, 3)), `**${n(i.perSecond.total!, 3)}**`, `${fmtUsd(upstashCostUsd(i.perDay))} per day`])).join("\n")}
${holdsRows(bill).join("\n")}

${row(["target", "wanted", "measured", ""])}
${row(["---", "---", "---", "---"])}
${targetRows(bill.targets).join("\n")}
`;
}

/** The bill of a sale with holds: per paid order (gate call + the shop's confirmation) and per hold left to expire. */
function holdsRows(bill: BillJson): string[] {
  if (!bill.holds) return [];
  const { paid, expiry } = bill.holds;
  return [
    row([
      `billed commands per paid order (${n(paid.paid)} held ${paid.holdSeconds} s, each confirmed by the shop; ${paid.sweeps} sweeps)`,
      ...BILL_COMPONENTS.map((c) => n(paid.perPaidOrder[c]!, 3)),
      `**${n(paid.perPaidOrder.total!, 3)}**`,
      `${fmtUsd(upstashCostUsd(paid.perPaidOrder.total! * 1000))} per 1,000 paid orders`,
    ]),
    row([
      `billed commands per expired hold (${n(expiry.held)} held ${expiry.holdSeconds} s, none paid; ${expiry.sweeps} sweeps in ${n(expiry.expiredSeconds, 1)} s)`,
      ...BILL_COMPONENTS.map((c) => n(expiry.perHold[c]!, 3)),
      `**${n(expiry.perHold.total!, 3)}**`,
      `${fmtUsd(upstashCostUsd(expiry.perHold.total! * 1000))} per 1,000 holds`,
    ]),
  ];
}

/** Each bench's section of BENCHMARKS.md, by the heading it starts with (what a partial run replaces). */
const sections: { bench: Bench; heading: string; render: () => string }[] = [
  { bench: "bench:edge", heading: "## Edge", render: () => edgeSection(read<EdgeJson>("edge.json"), readIfThere<EdgeJson>("edge-p2.json")) },
  { bench: "bench:crowds", heading: "## Crowds", render: () => crowdsSection(read<CrowdsBench>("crowds.json")) },
  { bench: "bench:pipeline", heading: "## Pipeline", render: pipelineSection },
  { bench: "bench:realpath", heading: "## The real path", render: () => realpathSection(read<RealpathJson>("realpath.json")) },
  { bench: "bench:bill", heading: "## The Upstash bill", render: billSection },
  { bench: "bench:challenge", heading: "## Bot friction", render: () => challengeSection(read<ChallengeBench>("challenge.json")) },
  { bench: "bench:lottery", heading: "## The pre-queue's start", render: () => lotterySection(read<LotteryBench>("lottery.json")) },
  { bench: "bench:attack", heading: "## Attackers", render: () => attackSection(read<AttackBench>("attack.json")) },
];

const reproduce = `Reproduce: \`git checkout ${before.commit.slice(0, 12)} && npm run up && npm run bench\` (or \`npm run bench:edge\`, \`npm run bench:crowds\`, \`npm run bench:pipeline\`, \`npm run bench:realpath\`, \`npm run bench:bill\`, \`npm run bench:challenge\`, \`npm run bench:lottery\`, \`npm run bench:attack\`; \`npm run bench -- edge realpath\` re-measures only those sections); raw results in
\`.fluxgate/bench/*.json\`.
`;

const file = join(repoRoot, "BENCHMARKS.md");
let md: string;
if (benches.length === allBenches.length) {
  const edge = read<EdgeJson>("edge.json");
  const pipelineAt = read<{ at: string }>("pipeline.json").at;
  md = `# Benchmarks

Produced by \`npm run bench\` from the code at ${version}, on ${edge.machine.cores} cores (${edge.machine.cpu}, Node ${edge.machine.node}), the whole
stack on the same machine; edge ${edge.startedAt.slice(0, 16).replace("T", " ")} UTC, pipeline ${pipelineAt.slice(0, 16).replace("T", " ")} UTC.
The load generator, workerd and the pipeline share the cores; the 1-minute load average was ${n(loadAtStart, 1)} when this run began
(other work on the machine slows every figure, most of all the real path's, whose every hop waits for a core).

${sections.map((x) => x.render()).join("\n")}
${reproduce}`;
} else {
  const fresh = sections.filter((x) => benches.includes(x.bench)).map((x) => ({ heading: x.heading, text: x.render() }));
  md = spliceSections(readFileSync(file, "utf8"), fresh);
  // Each section names its own commit: the note points there, whichever partial run came last.
  const note = "Sections naming their own commit were re-measured since with `npm run bench -- <bench>` (e.g. `npm run bench -- edge realpath`).";
  md = md.replace(/\nSections naming their own commit were re-measured since[^\n]*\n/, "\n").replace(/\n\n## /, `\n${note}\n\n## `);
}
writeFileSync(file, md);
console.log(`\nwrote ${file}`);
