import { writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { createRequire } from "node:module";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describeCpu, type CpuUse } from "./cpu";
import type { Identity } from "./edge-floods";
import { isPolluted, type CommandUsage } from "./redis-stats";
import type { SaleResult } from "./sale";
import { bottleneck, describeBottleneck, ratioOrRefusal, type Bottleneck, type GeneratorUse } from "./saturation";
import { SOLD_OUT_MEMORY_MS } from "../../../edge/src/time-windows";
import { fmtCodes, fmtInt, fmtRatio, table } from "./table";
import type { WrkResult } from "./wrk-script";

const miniflareVersion = () => (createRequire(import.meta.url)("miniflare/package.json") as { version: string }).version;
const wrkVersion = () => /wrk (\S+)/.exec(spawnSync("wrk", ["--version"], { encoding: "utf8" }).stdout ?? "")?.[1] ?? "?";

/** What `npm run bench:edge` was asked to do (load/src/bench-edge.ts reads it from the environment). */
export interface EdgeBenchSettings {
  seconds: number;
  rounds: number;
  warmupSeconds: number;
  connections: number;
  isolates: number;
  /** workerd processes the isolates are split over (1: the stack's shape). */
  processes: number;
  /** wrk threads (spread over the processes). */
  threads: number;
  sale: {
    enabled: boolean;
    buyers: number;
    stock: number;
    rate: number;
    burst: number;
    arrivalSeconds: number;
    connections: number;
    deadlineSeconds: number;
    pollMs: number;
  };
}

/**
 * Redis use in one window: INFO commandstats (server-wide) and, when redis-cli is there, the
 * bill of the window's own sale: every command on its keys by who sent it, the edge's and apart
 * from them the origin's (forward confirmations and relay reads on the sale's outbox).
 */
export interface RedisWindow {
  usage: CommandUsage;
  mine: { edge: Record<string, number>; total: number; origin: Record<string, number>; originTotal: number } | undefined;
}

/**
 * The floors: inline workers that make the subrequests a path makes and nothing else, behind the
 * same router and isolates. "one Upstash call": one REST call (PING) to the same bridge per
 * request, the floor of the gate path; "two calls": that, then a GET of the origin's /health,
 * the floor of the accepted path (its gate call and its forward). What the runtime's subrequests
 * cost here, before any code of ours.
 */
export const ONE_CALL = "one Upstash call";
export const TWO_CALLS = "two calls (Upstash, origin)";
const FLOORS = [
  { name: ONE_CALL, of: "gate", calls: "one REST call to the same bridge" },
  { name: TWO_CALLS, of: "accepted", calls: "that and one call to the origin" },
] as const;
const isFloor = (name: string) => FLOORS.some((f) => f.name === name);
/** What a row's Redis column says for a reference worker (hello world, a floor), or undefined for a path of the edge. */
export const referenceCommands = (name: string): string | undefined => (name === "hello world" ? "0 (no Redis)" : isFloor(name) ? "1 (PING)" : undefined);

export interface PathResult {
  name: "hello world" | typeof ONE_CALL | typeof TWO_CALLS | "sold-out" | "gate" | "accepted";
  identity: Identity | "-";
  description: string;
  load: WrkResult;
  /** Every process's CPU over the run's steady part. */
  cpu: CpuUse;
  generator: GeneratorUse;
  redis: RedisWindow;
  /** Top-level Redis commands of this path (attributed to its sale when MONITOR ran, else commandstats). */
  commands: number;
  commandsPerRequest: number;
  /** req/s of every round (the figures are the median round's). */
  rounds: number[];
}

export interface SaleRun {
  result: SaleResult;
  redis: RedisWindow;
  commands: number;
  cpu: CpuUse;
  sales: Record<string, unknown>;
  saleId: string;
}

export interface Target {
  name: string;
  target: string;
  measured: string;
  /** undefined: not measurable this run (e.g. the generator was saturated). */
  pass: boolean | undefined;
  kind: "throughput" | "cpu" | "redis" | "correctness";
}

/** Throughput targets, × hello world, signed in (issue 24). */
export const THROUGHPUT_TARGETS: Partial<Record<PathResult["name"], number>> = { "sold-out": 0.8, gate: 0.5, accepted: 0.5 };
/** workerd CPU per request, at most this × hello world's (the accepted path's includes its forward). */
export const CPU_TARGETS: Partial<Record<PathResult["name"], number>> = { gate: 2, accepted: 2 };

export interface PathJson {
  name: PathResult["name"];
  identity: PathResult["identity"];
  description: string;
  rps: number;
  rounds: number[];
  ratioToHello: number | null;
  ratioRefused: string | null;
  targetRatio: number | null;
  requests: number;
  sent: number;
  seconds: number;
  statusCodes: Record<string, number>;
  latencyMs: WrkResult["latencyMs"];
  errors: number;
  timeouts: number;
  workerdCpuMicrosPerRequest: number;
  cpuRatioToHello: number | null;
  targetCpuRatio: number | null;
  redisCommands: number;
  redisCommandsPerRequest: number;
  generator: GeneratorUse;
  bottleneck: Bottleneck;
  cpuCores: Record<string, number>;
  cpuPeak: Record<string, number>;
  cpuOthers: Record<string, number>;
  polluted: boolean;
  redisOwn: RedisWindow["mine"];
  commandstats: CommandUsage;
}

export interface EdgeJson {
  runId: string;
  startedAt: string;
  durationSeconds: number;
  commit: string;
  dirty: string[];
  machine: { cores: number; cpu: string | undefined; node: string; loadavgAtStart: number[]; loadavgAtEnd: number[] };
  settings: EdgeBenchSettings;
  build: { wrangler: string; ms: number; runtime: string };
  generator: string;
  paths: PathJson[];
  sale: Record<string, unknown> | null;
  targets: Target[];
  oversold: boolean;
}

const fmtCommands = (o: Record<string, number>) =>
  Object.entries(o)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k}=${v}`)
    .join(" ") || "none";

/** The origin's scripts on the sale's keys (its confirmations and relay steps are EVALSHAs too, which commandstats books with the gate's). */
const originScripts = (w: RedisWindow) =>
  Object.entries(w.mine?.origin ?? {})
    .filter(([name]) => /:(evalsha|eval)$/.test(name))
    .reduce((n, [, v]) => n + v, 0);

const polluted = (w: RedisWindow, commands: number) => isPolluted(w.usage) || (w.mine !== undefined && w.usage.edge - originScripts(w) !== commands);

/** How the window's Redis count was obtained, and whether commandstats saw other clients. */
function redisNote(w: RedisWindow, commands: number): string {
  const server = w.usage.edge - originScripts(w);
  const parts: string[] = [];
  if (w.mine) parts.push(`edge on this sale's keys (MONITOR): ${fmtCommands(w.mine.edge)}`);
  parts.push(`commandstats top-level: ${fmtCommands(w.usage.topLevel)}`);
  if (w.usage.originTotal) parts.push(`origin (not the edge's): ${fmtCommands(w.usage.origin)}${w.mine ? `, ${w.mine.originTotal} on this sale's keys` : ""}`);
  if (w.usage.foreignTotal || w.usage.foreignInfo || (w.mine && server !== commands)) {
    const extra = w.mine ? server - commands : 0;
    parts.push(
      `POLLUTED by other clients${extra > 0 ? `: ${extra} of the gate/waiting-room commands are not this sale's` : ""}` +
        `${w.usage.foreignTotal ? `; other commands: ${fmtCommands(w.usage.foreign)}` : ""}`,
    );
  }
  return parts.join("; ");
}

/** workerd's CPU time per response in a window: the cost of a path, much less noisy than req/s on a shared 2-core machine. */
const workerdMicros = (p: PathResult) => ((p.cpu.cores["workerd (bench)"] ?? 0) * 1e6) / Math.max(1, p.load.rps);

export const mark = (pass: boolean | undefined) => (pass === undefined ? "⚠️" : pass ? "✅" : "❌");

function pathJson(p: PathResult, hello: PathResult): PathJson {
  const ratio =
    p === hello
      ? { ratio: 1, refused: undefined }
      : ratioOrRefusal({ rps: p.load.rps, generator: p.generator }, { rps: hello.load.rps, generator: hello.generator });
  const helloMicros = workerdMicros(hello);
  const signedIn = p.identity === "jwt";
  return {
    name: p.name,
    identity: p.identity,
    description: p.description,
    rps: p.load.rps,
    rounds: p.rounds,
    ratioToHello: ratio.ratio ?? null,
    ratioRefused: ratio.refused ?? null,
    targetRatio: signedIn ? (THROUGHPUT_TARGETS[p.name] ?? null) : null,
    requests: p.load.requests,
    sent: p.load.sent,
    seconds: p.load.seconds,
    statusCodes: p.load.statusCodes,
    latencyMs: p.load.latencyMs,
    errors: p.load.errors,
    timeouts: p.load.timeouts,
    workerdCpuMicrosPerRequest: workerdMicros(p),
    cpuRatioToHello: helloMicros > 0 ? workerdMicros(p) / helloMicros : null,
    targetCpuRatio: signedIn ? (CPU_TARGETS[p.name] ?? null) : null,
    redisCommands: p.commands,
    redisCommandsPerRequest: p.commandsPerRequest,
    generator: p.generator,
    bottleneck: bottleneck(p.cpu),
    cpuCores: p.cpu.cores,
    cpuPeak: p.cpu.peak,
    cpuOthers: p.cpu.others,
    polluted: referenceCommands(p.name) === undefined && polluted(p.redis, p.commands),
    redisOwn: p.redis.mine,
    commandstats: p.redis.usage,
  };
}

/**
 * What the runtime's subrequests cost before any code of ours, and how far the gate and accepted
 * paths (signed in) are above their floors: a ratio target below a floor's own ratio is out of
 * reach for any code.
 */
export function floorNote(paths: PathJson[]): string | undefined {
  const lines: string[] = [];
  for (const f of FLOORS) {
    const floor = paths.find((p) => p.name === f.name);
    const path = paths.find((p) => p.name === f.of && p.identity === "jwt");
    if (!floor || !path || floor.ratioToHello === null) continue;
    lines.push(
      `The floor of the ${f.of} path (${f.name}: hello world plus ${f.calls}): ${fmtRatio(floor.ratioToHello)} hello world's throughput at ` +
        `${fmtInt(floor.workerdCpuMicrosPerRequest)} µs of workerd CPU per request (${fmtRatio(floor.cpuRatioToHello ?? NaN)} hello world's). ` +
        `The ${f.of} path (signed in) runs at ${fmtRatio(path.rps / floor.rps)} the floor's throughput and ${fmtRatio(path.workerdCpuMicrosPerRequest / floor.workerdCpuMicrosPerRequest)} its CPU: ` +
        `${fmtInt(path.workerdCpuMicrosPerRequest - floor.workerdCpuMicrosPerRequest)} µs per request are the edge's own code.`,
    );
  }
  return lines.length ? lines.join("\n") : undefined;
}

/** The targets a run can be held to: throughput and CPU × hello world (signed in), Redis commands per path, the whole sale's. */
function pathTargets(paths: PathJson[], seconds: number, isolates: number): Target[] {
  const targets: Target[] = [];
  for (const p of paths.filter((x) => x.identity === "jwt")) {
    if (p.targetRatio !== null)
      targets.push({
        name: `${p.name} throughput, signed in`,
        target: `≥ ${p.targetRatio.toFixed(2)}× hello world`,
        measured: p.ratioToHello !== null ? fmtRatio(p.ratioToHello) : `not measured: ${p.ratioRefused}`,
        pass: p.ratioToHello !== null ? p.ratioToHello >= p.targetRatio : undefined,
        kind: "throughput",
      });
    if (p.targetCpuRatio !== null && p.cpuRatioToHello !== null)
      targets.push({
        name: `${p.name} workerd CPU / request, signed in${p.name === "accepted" ? " (its forward included)" : ""}`,
        target: `≤ ${p.targetCpuRatio}× hello world's`,
        measured: `${fmtRatio(p.cpuRatioToHello)} (${fmtInt(p.workerdCpuMicrosPerRequest)} µs)`,
        pass: p.cpuRatioToHello <= p.targetCpuRatio,
        kind: "cpu",
      });
  }
  for (const p of paths.filter((x) => x.name !== "hello world")) {
    const tag = `${p.name} Redis commands${p.identity === "anonymous" ? " (anonymous)" : ""}`;
    if (p.name === "sold-out") {
      // Sold-out is final for a saleId, but an isolate re-checks Redis once its memory of it is
      // SOLD_OUT_MEMORY_MS old (the bound on answering for a restarted or restocked sale), each isolate on its own.
      const window = SOLD_OUT_MEMORY_MS / 1000;
      const recheck = isolates * (Math.ceil(seconds / window) + 1);
      targets.push({
        name: tag,
        target: `0/req: from memory, ≤ 1 re-check per ${window} s per isolate (≤ ${recheck} here)`,
        measured: `${p.redisCommandsPerRequest.toFixed(4)}/req (${p.redisCommands} in ${fmtInt(p.requests)})`,
        pass: p.redisCommands <= recheck,
        kind: "redis",
      });
    } else if (p.name === "gate" || p.name === "accepted") {
      const answer = p.name === "gate" ? "302" : "200";
      // wrk stops with up to one request per connection in flight: those reach the edge too.
      targets.push({
        name: tag,
        target: `exactly 1 per request (between the ${fmtInt(p.requests)} answered and the ${fmtInt(p.sent)} sent), every answer ${answer}`,
        measured: `${fmtInt(p.redisCommands)}; ${fmtCodes(p.statusCodes)}`,
        pass: p.redisCommands >= p.requests && p.redisCommands <= p.sent && (p.statusCodes[answer] ?? 0) === p.requests,
        kind: "redis",
      });
    }
  }
  return targets;
}

function saleTargets(r: SaleRun, stock: number): Target[] {
  const s = r.result;
  const accepted = s.outcomes.bought;
  const unique = new Set(s.orderIds).size;
  const sold = Number(r.sales.sold ?? NaN);
  const perRequest = r.commands / Math.max(1, s.requests);
  return [
    { name: "whole sale Redis commands", target: "≤ 0.2 per edge request", measured: perRequest.toFixed(4), pass: perRequest <= 0.2, kind: "redis" },
    {
      name: "whole sale: no oversell",
      target: `accepted ≤ ${stock}, orderIds distinct, Redis sold ≤ ${stock}`,
      measured: `${accepted} accepted, ${unique} distinct, sold ${sold}`,
      pass: accepted <= stock && unique === accepted && !(sold > stock),
      kind: "correctness",
    },
    {
      name: "whole sale: sells exactly the stock",
      target: `accepted = ${stock} = Redis sold`,
      measured: `${accepted} accepted, sold ${sold}`,
      pass: accepted === stock && sold === stock,
      kind: "correctness",
    },
  ];
}

/** The whole sale's figures for the console and edge.json. */
function saleLines(r: SaleRun, settings: EdgeBenchSettings): { lines: string[]; json: Record<string, unknown> } {
  const s = r.result;
  const stock = settings.sale.stock;
  const perRequest = r.commands / Math.max(1, s.requests);
  const workerd = ((r.cpu.cores["workerd (bench)"] ?? 0) * r.cpu.seconds * 1e6) / Math.max(1, s.requests);
  const lines = [
    `Whole sale: ${fmtInt(stock)} units, ${fmtInt(settings.sale.buyers)} buyers (${(settings.sale.buyers / stock).toFixed(0)}× oversubscribed) arriving over ${settings.sale.arrivalSeconds} s, ` +
      `rate ${settings.sale.rate}/s (burst ${settings.sale.burst}), polling every ~${settings.sale.pollMs / 1000} s, ${settings.sale.connections} connections (undici), anonymous edge`,
    table(
      [
        ["measure", "value"],
        ["edge requests", fmtInt(s.requests)],
        ...Object.entries(s.byKind).map(([k, v]) => [`  ${k}`, `${fmtInt(v.count)}  (${fmtCodes(v.status) || "-"})`]),
        ["Redis commands (edge, top-level)", `${fmtInt(r.commands)}  (${fmtCommands(r.redis.mine?.edge ?? r.redis.usage.topLevel)})`],
        ["Redis commands per edge request", perRequest.toFixed(4)],
        ["accepted (200)", `${fmtInt(s.outcomes.bought)} of ${fmtInt(stock)} stock (/sales says sold ${String(r.sales.sold)})`],
        [
          "ended sold out / limit / error / unfinished",
          `${s.outcomes.sold_out} / ${s.outcomes.limit_reached} / ${s.outcomes.error} / ${s.outcomes.unfinished}`,
        ],
        ["sale duration (first arrival → last buyer done)", `${(s.durationMs / 1000).toFixed(2)} s`],
        ["request latency p50 / p99 (client, incl. queueing)", `${s.latencyMs.p50} ms / ${s.latencyMs.p99} ms`],
        ["workerd CPU per edge request", `${fmtInt(workerd)} µs`],
        ["CPU", describeCpu(r.cpu)],
      ],
      { alignNumbers: false },
    ),
    `  Redis: ${redisNote(r.redis, r.commands)}`,
  ];
  if (s.errors.length) lines.push(`  first errors: ${s.errors.slice(0, 5).join(" | ")}`);
  const json = {
    stock,
    buyers: settings.sale.buyers,
    saleId: r.saleId,
    accepted: s.outcomes.bought,
    distinctOrderIds: new Set(s.orderIds).size,
    soldInRedis: Number(r.sales.sold ?? NaN),
    outcomes: s.outcomes,
    edgeRequests: s.requests,
    byKind: s.byKind,
    redisCommands: r.commands,
    redisCommandsPerEdgeRequest: perRequest,
    polluted: polluted(r.redis, r.commands),
    durationMs: s.durationMs,
    latencyMs: s.latencyMs,
    workerdCpuMicrosPerRequest: workerd,
    cpuCores: r.cpu.cores,
    errors: s.errors,
  };
  return { lines, json };
}

/**
 * The edge bench's results: the table and notes on stdout, edge.json for `npm run bench` (and
 * edge-p<N>.json when the isolates ran in N processes). Returns the exit code (1 only for a
 * correctness failure).
 */
export function report(
  run: { settings: EdgeBenchSettings; runId: string; startedAt: number; outDir: string; version: { commit: string; dirty: string[] }; loadAtStart: number[] },
  r: {
    built: { scriptPath: string; wranglerVersion: string };
    buildMs: number;
    backgroundPerSecond: number;
    originBackgroundPerSecond: number;
    registeredOutboxes: number;
    idle: CommandUsage;
    hello: PathResult;
    paths: PathResult[];
    sale: SaleRun | undefined;
    monitor: boolean;
  },
): number {
  const st = run.settings;
  const all = [r.hello, ...r.paths];
  const paths = all.map((p) => pathJson(p, r.hello));
  const runtime = `${st.isolates} workerd isolates in ${st.processes} workerd process${st.processes > 1 ? "es" : ""} behind a round-robin router, via the Miniflare ${miniflareVersion()} API`;
  const generator = `wrk ${wrkVersion()}, ${st.threads} thread${st.threads > 1 ? "s" : ""} × ${st.connections} connections`;
  const out: string[] = [""];
  out.push(
    `Flux-Gate edge bench ${run.runId} at commit ${run.version.commit.slice(0, 12)}${run.version.dirty.length ? " (plus uncommitted changes)" : ""} — ${runtime} (wrangler ${r.built.wranglerVersion} bundle), ` +
      `${availableParallelism()} cores, load average ${run.loadAtStart.map((x) => x.toFixed(2)).join(" ")} at the start; ${generator}, ${st.seconds} s per window, median of ${st.rounds} alternating rounds`,
  );
  out.push("");
  out.push(
    table([
      [
        "path",
        "identity",
        "req/s (rounds)",
        "× hello",
        "target",
        "p50",
        "p99",
        "workerd CPU/req",
        "× hello",
        "Redis cmds/req",
        "status codes",
        "wrk CPU",
        "busiest process",
      ],
      ...paths.map((p) => [
        p.name,
        p.identity,
        `${fmtInt(p.rps)} (${p.rounds.map(fmtInt).join(", ")})`,
        p.ratioToHello !== null ? fmtRatio(p.ratioToHello) : "refused",
        p.targetRatio !== null ? `≥ ${p.targetRatio.toFixed(2)}× ${mark(p.ratioToHello === null ? undefined : p.ratioToHello >= p.targetRatio)}` : "",
        `${p.latencyMs.p50} ms`,
        `${p.latencyMs.p99} ms`,
        `${fmtInt(p.workerdCpuMicrosPerRequest)} µs`,
        p.cpuRatioToHello !== null ? fmtRatio(p.cpuRatioToHello) : "-",
        referenceCommands(p.name) ?? p.redisCommandsPerRequest.toFixed(4),
        fmtCodes(p.statusCodes) + (p.errors ? ` errors:${p.errors}` : "") + (p.timeouts ? ` timeouts:${p.timeouts}` : ""),
        `${p.generator.cores.toFixed(2)}/${p.generator.threads}${p.generator.saturated ? " SATURATED" : ""}`,
        describeBottleneck(p.bottleneck, availableParallelism()),
      ]),
    ]),
  );
  for (const p of paths.filter((x) => x.ratioRefused)) out.push(`  ${p.name} (${p.identity}): no ratio — ${p.ratioRefused}`);
  const floor = floorNote(paths);
  if (floor) out.push("", floor);
  out.push("");
  out.push("CPU during each path's median window (cores busy, from /proc; 'other' = processes outside the system under test):");
  for (const p of all) out.push(`  ${`${p.name} (${p.identity})`.padEnd(22)} ${describeCpu(p.cpu)}`);
  out.push("");
  out.push(
    `Redis per path${r.monitor ? " (the Redis cmds/req column counts the top-level commands naming the path's own sale keys, by redis-cli MONITOR)" : ""}:`,
  );
  for (const p of r.paths) out.push(`  ${`${p.name} (${p.identity})`.padEnd(22)} ${redisNote(p.redis, p.commands)}`);
  out.push(
    `  background while idle before the run: the origin's relay ${r.originBackgroundPerSecond.toFixed(2)} commands/s (${r.registeredOutboxes} registered outboxes), other clients ${r.backgroundPerSecond.toFixed(1)}/s`,
  );

  const targets = pathTargets(paths, st.seconds, st.isolates);
  let saleJson: Record<string, unknown> | null = null;
  if (r.sale) {
    const s = saleLines(r.sale, st);
    out.push("", ...s.lines);
    saleJson = s.json;
    targets.push(...saleTargets(r.sale, st.sale.stock));
  }
  out.push("");
  out.push(table([["target", "wanted", "measured", ""], ...targets.map((t) => [t.name, t.target, t.measured, mark(t.pass)])], { alignNumbers: false }));
  const totalSeconds = (Date.now() - run.startedAt) / 1000;
  const file = join(run.outDir, st.processes > 1 ? `edge-p${st.processes}.json` : "edge.json");
  out.push(`Bench took ${totalSeconds.toFixed(0)} s. Results: ${file}`);
  process.stdout.write(`${out.join("\n")}\n`);

  const oversold = targets.some((t) => t.kind === "correctness" && t.name.includes("oversell") && t.pass === false);
  const json: EdgeJson = {
    runId: run.runId,
    startedAt: new Date(run.startedAt).toISOString(),
    durationSeconds: totalSeconds,
    commit: run.version.commit,
    dirty: run.version.dirty,
    machine: { cores: availableParallelism(), cpu: cpus()[0]?.model, node: process.version, loadavgAtStart: run.loadAtStart, loadavgAtEnd: loadavg() },
    settings: st,
    build: { wrangler: r.built.wranglerVersion, ms: r.buildMs, runtime },
    generator,
    paths,
    sale: saleJson,
    targets,
    oversold,
  };
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  if (oversold) process.stderr.write("OVERSELL: the sale accepted more than its stock (or duplicated an order)\n");
  return oversold ? 1 : 0;
}
