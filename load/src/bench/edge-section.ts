import { floorNote, mark, ONE_CALL, referenceCommands, TWO_CALLS, type EdgeJson, type PathJson } from "./edge-report";
import { describeBottleneck } from "./saturation";
import { fmtNumber as n, markdownRow as row } from "./table";

/**
 * The edge's section of BENCHMARKS.md, from edge.json (and, when it exists, edge-p2.json: the
 * same bench with the isolates split over two workerd processes). Every figure says what it
 * measures, from where to where, at which commit, with the load generator's CPU beside it.
 */

const when = (j: EdgeJson) => `${j.startedAt.slice(0, 16).replace("T", " ")} UTC`;
const commitOf = (j: EdgeJson) => `\`${j.commit.slice(0, 12)}\`${j.dirty.length ? " (plus uncommitted changes)" : ""}`;
const load1 = (j: EdgeJson) => n(j.machine.loadavgAtStart[0] ?? NaN, 1);
const ratio = (p: PathJson) => (p.ratioToHello !== null ? `${n(p.ratioToHello, 2)}×` : `— (${p.ratioRefused})`);
const target = (p: PathJson) =>
  p.targetRatio !== null ? `≥ ${n(p.targetRatio, 2)}× ${mark(p.ratioToHello === null ? undefined : p.ratioToHello >= p.targetRatio)}` : "";
const cpuTarget = (p: PathJson) =>
  p.targetCpuRatio !== null && p.cpuRatioToHello !== null ? ` (≤ ${p.targetCpuRatio}× ${mark(p.cpuRatioToHello <= p.targetCpuRatio)})` : "";

function pathRows(j: EdgeJson): string {
  return [
    row([
      "path",
      "identity",
      "requests/s (each round)",
      "× hello world",
      "target",
      "p50 / p99",
      "workerd CPU / request (× hello)",
      "Redis commands / request",
      "wrk CPU (cores)",
      "busiest process (cores)",
    ]),
    row(["---", "---", "---:", "---:", "---", "---:", "---:", "---:", "---:", "---"]),
    ...j.paths.map((p) =>
      row([
        p.name,
        p.identity,
        `${n(p.rps)} (${p.rounds.map((x) => n(x)).join(", ")})`,
        ratio(p),
        target(p),
        `${p.latencyMs.p50} / ${p.latencyMs.p99} ms`,
        `${n(p.workerdCpuMicrosPerRequest)} µs (${n(p.cpuRatioToHello ?? NaN, 2)}×)${cpuTarget(p)}`,
        referenceCommands(p.name) ?? n(p.redisCommandsPerRequest, 3),
        `${n(p.generator.cores, 2)} of ${p.generator.threads}${p.generator.saturated ? " **saturated**" : ""}`,
        describeBottleneck(p.bottleneck, j.machine.cores),
      ]),
    ),
  ].join("\n");
}

/** The both-cores experiment beside the stack's shape: the same paths, the isolates in 1 vs N processes. */
function processesRows(one: EdgeJson, many: EdgeJson): string {
  const key = (p: PathJson) => `${p.name}/${p.identity}`;
  const other = new Map(many.paths.map((p) => [key(p), p]));
  return [
    row(["path", "identity", `1 process: requests/s, × hello, busiest`, `${many.settings.processes} processes: requests/s, × hello, busiest`, "change"]),
    row(["---", "---", "---", "---", "---:"]),
    ...one.paths
      .filter((p) => other.has(key(p)))
      .map((p) => {
        const q = other.get(key(p))!;
        return row([
          p.name,
          p.identity,
          `${n(p.rps)}, ${ratio(p)}, ${describeBottleneck(p.bottleneck, one.machine.cores)}`,
          `${n(q.rps)}, ${ratio(q)}, ${describeBottleneck(q.bottleneck, many.machine.cores)}`,
          `${q.rps >= p.rps ? "+" : ""}${n((q.rps / p.rps - 1) * 100)}%`,
        ]);
      }),
  ].join("\n");
}

export function edgeSection(j: EdgeJson, split?: EdgeJson): string {
  const s = j.settings;
  const sale = j.sale as {
    buyers: number;
    stock: number;
    edgeRequests: number;
    redisCommands: number;
    redisCommandsPerEdgeRequest: number;
    accepted: number;
    durationMs: number;
  } | null;
  return `## Edge (\`npm run bench:edge\`, ${when(j)})

Measured at commit ${commitOf(j)} on ${j.machine.cores} cores (${j.machine.cpu ?? "?"}), 1-minute load average ${load1(j)} at the start
(other work shares these cores: the "busiest process" column says when the machine was full). From ${j.generator} on the
same machine, to the router worker and ${j.build.runtime}, and back; the edge's Redis through the stack's bridge (Upstash
REST → redis-server), its forward to the stack's origin. ${s.seconds} s per window, ${s.rounds} alternating rounds of every path, the median
round shown. Hello world is an inline worker behind the same router and isolates, sent exactly the sold-out path's
requests (the generator does the same work per request); "${ONE_CALL}" is the same plus one REST call (PING) to the
bridge per request, sent the gate path's requests (the floor of any path that asks Redis once), and "${TWO_CALLS}" that
plus a GET of the origin's /health, sent the accepted path's (the floor of a gate call and a forward). Signed in (\`jwt\`, the default): a token of the stack's dev
issuer per buyer, verified on every request; \`anonymous\` (the body names the buyer) for reference. Every request has a
fresh Idempotency-Key. CPU from /proc over each window's steady part: workerd's per request, wrk's (a ratio is refused
when wrk was at ≥ 90% of its threads), and the busiest single process (workerd runs all isolates of a process on one thread,
so at ~1.0 it is the ceiling).

${pathRows(j)}
${floorNote(j.paths) ? `\n${floorNote(j.paths)?.replaceAll("\n", "\n\n")}\n` : ""}
${row(["target", "wanted", "measured", ""])}
${row(["---", "---", "---", "---"])}
${j.targets.map((t) => row([t.name, t.target, t.measured, mark(t.pass)])).join("\n")}
${
  sale
    ? `
Whole oversubscribed sale (anonymous edge): ${n(sale.buyers)} browser-like buyers for ${n(sale.stock)} units
(${n(sale.buyers / sale.stock)}×), polling the waiting room every second: ${n(sale.edgeRequests)} edge requests,
${n(sale.redisCommands)} Redis commands = **${n(sale.redisCommandsPerEdgeRequest, 3)} per edge request**; ${n(sale.accepted)} accepted, sale over in ${n(sale.durationMs / 1000, 1)} s.
`
    : ""
}${
  split
    ? `
### Both cores: the isolates in ${split.settings.processes} workerd processes (\`BENCH_EDGE_PROCESSES=${split.settings.processes}\`, ${when(split)}, commit ${commitOf(split)}, load average ${load1(split)})

workerd runs every isolate of one process on one thread, so the stack's edge (one process) can use one core. Split over
${split.settings.processes} processes (${split.settings.isolates} isolates, each process its own router over its share; ${split.generator},
its threads spread over the processes), against the run above:

${processesRows(j, split)}
`
    : ""
}
Production's shape is neither: on Cloudflare each isolate runs in its own process on its own machine, so the edge's
throughput grows with the crowd's spread, and what bounds one isolate is its own CPU per request (the workerd CPU column)
and Upstash's round-trip, not a shared core. The ratios above are what carries over; the absolute rates are this machine's.
`;
}
