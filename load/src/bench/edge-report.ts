import { writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import { edgeIsolates } from "@fluxgate/stack";
import type { CannonResult } from "./cannon";
import { describeCpu, type CpuUse } from "./cpu";
import { isPolluted, type CommandUsage } from "./redis-stats";
import type { SaleResult } from "./sale";
import { fmtCodes, fmtInt, fmtMs, fmtRatio, table } from "./table";

const miniflareVersion = () => (createRequire(import.meta.url)("miniflare/package.json") as { version: string }).version;

/** What `npm run bench:edge` was asked to do (load/src/bench-edge.ts reads it from the environment). */
export interface EdgeBenchSettings {
  seconds: number;
  rounds: number;
  warmupSeconds: number;
  connections: number;
  sale: { buyers: number; stock: number; rate: number; burst: number; arrivalSeconds: number; connections: number; deadlineSeconds: number; pollMs: number };
}

/**
 * The edge bench's results: the table and notes on stdout, edge.json for `npm run bench`.
 * Returns the exit code (1 only for a correctness failure).
 */
/**
 * Redis use in one window: INFO commandstats (server-wide) and, when redis-cli is there, the
 * bill of the window's own sale: every command on its keys by who sent it, the edge's and apart
 * from them the origin's (forward confirmations and relay reads on the sale's outbox).
 */
export interface RedisWindow {
  usage: CommandUsage;
  mine: { edge: Record<string, number>; total: number; origin: Record<string, number>; originTotal: number } | undefined;
}

export interface PathResult {
  name: string;
  description: string;
  cannon: CannonResult;
  redis: RedisWindow;
  /** Top-level Redis commands of this path (attributed to its sale when MONITOR ran, else commandstats) per request sent. */
  commandsPerRequest: number;
  commands: number;
  cpu: CpuUse;
}

export interface SaleRun {
  result: SaleResult;
  redis: RedisWindow;
  commands: number;
  cpu: CpuUse;
  sales: Record<string, unknown>;
  saleId: string;
}

interface Target {
  name: string;
  target: string;
  measured: string;
  pass: boolean;
  kind: "throughput" | "redis" | "correctness";
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

/** How the window's Redis count was obtained, and whether commandstats saw other clients. */
function redisNote(w: RedisWindow, commands: number): string {
  const server = w.usage.edge - originScripts(w);
  const parts: string[] = [];
  if (w.mine) parts.push(`edge on this sale's keys (MONITOR): ${fmtCommands(w.mine.edge)}`);
  parts.push(`commandstats top-level: ${fmtCommands(w.usage.topLevel)}`);
  if (Object.keys(w.usage.scriptInternal).length) parts.push(`inside Lua: ${fmtCommands(w.usage.scriptInternal)}`);
  if (w.usage.originTotal) parts.push(`origin (not the edge's): ${fmtCommands(w.usage.origin)}${w.mine ? `, ${w.mine.originTotal} on this sale's keys` : ""}`);
  if (w.usage.foreignTotal || w.usage.foreignInfo || (w.mine && server !== commands)) {
    const extra = w.mine ? server - commands : 0;
    parts.push(
      `POLLUTED by other clients${extra > 0 ? `: ${extra} of the gate/waiting-room commands are not this sale's` : ""}` +
        `${w.usage.foreignTotal ? `; other commands: ${fmtCommands(w.usage.foreign)}` : ""}${w.usage.foreignInfo ? ` info=${w.usage.foreignInfo}` : ""}`,
    );
  }
  return parts.join("; ");
}

/** workerd's CPU time per response in a window: the cost of a path, much less noisy than req/s on a shared 2-core machine. */
const workerdMicros = (p: PathResult) => ((p.cpu.cores["workerd (bench)"] ?? 0) * p.cpu.seconds * 1e6) / Math.max(1, p.cannon.requests);

const polluted = (w: RedisWindow, commands: number) => isPolluted(w.usage) || (w.mine !== undefined && w.usage.edge - originScripts(w) !== commands);

export function report(
  run: { settings: EdgeBenchSettings; runId: string; startedAt: number; outDir: string },
  r: {
    built: { scriptPath: string; wranglerVersion: string };
    buildMs: number;
    backgroundPerSecond: number;
    originBackgroundPerSecond: number;
    registeredOutboxes: number;
    idle: CommandUsage;
    hello: PathResult;
    paths: PathResult[];
    sale: SaleRun;
    monitor: boolean;
  },
): number {
  const helloRps = r.hello.cannon.rps;
  const all = [r.hello, ...r.paths];
  const out: string[] = [];
  out.push("");
  out.push(
    `Flux-Gate edge bench ${run.runId} — ${edgeIsolates()} workerd isolates behind a round-robin, via Miniflare (wrangler ${r.built.wranglerVersion} bundle), ${availableParallelism()} cores, ` +
      `autocannon in-process, ${run.settings.connections} connections, ~${run.settings.seconds} s per path (a fixed number of requests sized by a ${run.settings.warmupSeconds} s warm-up)`,
  );
  out.push("");
  out.push(
    table([
      [
        "path",
        "req/s",
        "× hello",
        "p50",
        "p99",
        "status codes",
        "workerd CPU/req",
        "Redis cmds/req",
        "cmds / requests sent",
        "commandstats/req",
        "incl. Lua/req",
      ],
      ...all.map((p) => [
        p.name,
        fmtInt(p.cannon.rps),
        fmtRatio(p.cannon.rps / helloRps),
        fmtMs(p.cannon.latencyMs.p50),
        fmtMs(p.cannon.latencyMs.p99),
        fmtCodes(p.cannon.statusCodes) + (p.cannon.errors ? ` errors:${p.cannon.errors}` : ""),
        `${fmtInt(workerdMicros(p))} µs`,
        p.name === "hello world" ? "0 (no Redis)" : p.commandsPerRequest.toFixed(4),
        p.name === "hello world" ? "-" : `${fmtInt(p.commands)} / ${fmtInt(p.cannon.sent)}`,
        (p.redis.usage.edge / Math.max(1, p.cannon.sent)).toFixed(4),
        (p.redis.usage.allExecuted / Math.max(1, p.cannon.sent)).toFixed(2),
      ]),
    ]),
  );
  out.push("");
  out.push(
    `Redis per path: INFO commandstats deltas (server-wide; the bench's own INFO excluded; commands run inside the Lua gate split out)` +
      (r.monitor ? `, and the top-level commands naming the path's own sale keys (redis-cli MONITOR), which is the "Redis cmds/req" column:` : ":"),
  );
  for (const p of r.paths) out.push(`  ${p.name.padEnd(12)} ${redisNote(p.redis, p.commands)}`);
  out.push(`  hello world  ${isPolluted(r.hello.redis.usage) ? `other clients meanwhile: ${fmtCommands(r.hello.redis.usage.foreign)}` : "redis idle"}`);
  out.push(
    `  background   while idle before the run: the origin's relay reads ${r.originBackgroundPerSecond.toFixed(2)} commands/s (${r.registeredOutboxes} registered outboxes; the whole idle bill: npm run bench:bill), ` +
      `other clients ${r.backgroundPerSecond.toFixed(1)}/s${r.backgroundPerSecond > 0 ? ` (${fmtCommands(r.idle.foreign)})` : ""}`,
  );
  out.push("");
  out.push("CPU during each measured window (cores busy, from /proc; 'other' = processes outside the system under test):");
  for (const p of all) out.push(`  ${p.name.padEnd(12)} ${describeCpu(p.cpu)}`);

  const s = r.sale.result;
  const accepted = s.outcomes.bought;
  const unique = new Set(s.orderIds).size;
  const stock = run.settings.sale.stock;
  const soldInRedis = Number(r.sale.sales.sold ?? NaN);
  const saleCmdsPerReq = r.sale.commands / Math.max(1, s.requests);
  out.push("");
  out.push(
    `Whole sale: ${fmtInt(stock)} units, ${fmtInt(run.settings.sale.buyers)} buyers (${(run.settings.sale.buyers / stock).toFixed(0)}× oversubscribed) arriving over ${run.settings.sale.arrivalSeconds} s, ` +
      `rate ${run.settings.sale.rate}/s (burst ${run.settings.sale.burst}), polling every ~${run.settings.sale.pollMs / 1000} s, ${run.settings.sale.connections} connections (undici)`,
  );
  out.push(
    table(
      [
        ["measure", "value"],
        ["edge requests", fmtInt(s.requests)],
        ...Object.entries(s.byKind).map(([k, v]) => [`  ${k}`, `${fmtInt(v.count)}  (${fmtCodes(v.status) || "-"})`]),
        ["Redis commands (edge, top-level)", `${fmtInt(r.sale.commands)}  (${fmtCommands(r.sale.redis.mine?.edge ?? r.sale.redis.usage.topLevel)})`],
        ["Redis commands per edge request", saleCmdsPerReq.toFixed(4)],
        [
          "  per buyer",
          `${(s.requests / s.buyers).toFixed(2)} edge requests, ${(r.sale.commands / s.buyers).toFixed(2)} Redis commands; ` +
            `${s.byKind.page.count ? (s.byKind.status.count / s.byKind.page.count).toFixed(2) : "0"} status polls per queued buyer`,
        ],
        [
          "  commandstats (server-wide) / incl. Lua",
          `${(r.sale.redis.usage.edge / Math.max(1, s.requests)).toFixed(4)} / ${(r.sale.redis.usage.allExecuted / Math.max(1, s.requests)).toFixed(3)}`,
        ],
        ["accepted (200)", `${fmtInt(accepted)} of ${fmtInt(stock)} stock (${unique} distinct orderIds; /sales says sold ${soldInRedis})`],
        ["ended sold out", fmtInt(s.outcomes.sold_out)],
        ["limit reached / error / unfinished", `${s.outcomes.limit_reached} / ${s.outcomes.error} / ${s.outcomes.unfinished}`],
        ["sale duration (first arrival → last buyer done)", `${(s.durationMs / 1000).toFixed(2)} s`],
        ["last 200 / first sold-out seen at", `${((s.lastAcceptedAtMs ?? 0) / 1000).toFixed(2)} s / ${((s.firstSoldOutAtMs ?? 0) / 1000).toFixed(2)} s`],
        ["request latency p50 / p99 (client, incl. queueing)", `${s.latencyMs.p50} ms / ${s.latencyMs.p99} ms`],
        ["workerd CPU per edge request", `${fmtInt(((r.sale.cpu.cores["workerd (bench)"] ?? 0) * r.sale.cpu.seconds * 1e6) / Math.max(1, s.requests))} µs`],
        ["CPU", describeCpu(r.sale.cpu)],
      ],
      { alignNumbers: false },
    ),
  );
  if (s.errors.length) out.push(`  first errors: ${s.errors.slice(0, 5).join(" | ")}`);
  if (s.latencyMs.p50 > 1_000) {
    out.push(
      `  The edge could not keep up with the arrivals on this machine (client-side p50 ${(s.latencyMs.p50 / 1000).toFixed(1)} s): buyers waited in the connection pool, ` +
        `as in a TCP backlog, so they polled less per ticket than with a responsive edge.`,
    );
  }
  out.push(`  Redis: ${redisNote(r.sale.redis, r.sale.commands)}`);

  const soldOut = r.paths.find((p) => p.name === "sold-out")!;
  const acc = r.paths.find((p) => p.name === "accepted")!;
  // Sold-out is final for a saleId, but an isolate re-checks Redis once its memory of it is
  // SOLD_OUT_MEMORY_MS (3 s) old (the bound on answering for a restarted sale): "0" means no
  // more than one re-check per 3 s window of the run.
  const recheckWindows = Math.ceil(soldOut.cannon.seconds / 3) + 1;
  const acc200 = acc.cannon.statusCodes["200"] ?? 0;
  const targets: Target[] = [
    {
      name: "sold-out throughput",
      target: "≥ 0.80× hello world",
      measured: fmtRatio(soldOut.cannon.rps / helloRps),
      pass: soldOut.cannon.rps >= 0.8 * helloRps,
      kind: "throughput",
    },
    {
      name: "sold-out Redis commands",
      target: `0/req: from memory, ≤ 1 re-check per 3 s (≤ ${recheckWindows} here)`,
      measured: `${soldOut.commandsPerRequest.toFixed(4)}/req (${soldOut.commands} in ${fmtInt(soldOut.cannon.sent)})`,
      pass: soldOut.commands <= recheckWindows,
      kind: "redis",
    },
    {
      name: "accepted Redis commands",
      target: "exactly 1 per request",
      measured: `${acc.commandsPerRequest.toFixed(4)}/req (${fmtInt(acc.commands)} for ${fmtInt(acc.cannon.sent)} sent, ${fmtInt(acc200)} × 200)`,
      pass: acc.commands === acc.cannon.sent && acc200 === acc.cannon.requests,
      kind: "redis",
    },
    {
      name: "whole sale Redis commands",
      target: "≤ 0.2 per edge request",
      measured: saleCmdsPerReq.toFixed(4),
      pass: saleCmdsPerReq <= 0.2,
      kind: "redis",
    },
    {
      name: "whole sale: no oversell",
      target: `accepted ≤ ${stock}, orderIds distinct, Redis sold ≤ ${stock}`,
      measured: `${accepted} accepted, ${unique} distinct, sold ${soldInRedis}`,
      pass: accepted <= stock && unique === accepted && !(soldInRedis > stock),
      kind: "correctness",
    },
    {
      name: "whole sale: sells exactly the stock",
      target: `accepted = ${stock} = Redis sold`,
      measured: `${accepted} accepted, sold ${soldInRedis}`,
      pass: accepted === stock && soldInRedis === stock,
      kind: "correctness",
    },
  ];
  out.push("");
  out.push(
    table([["target", "wanted", "measured", "result"], ...targets.map((t) => [t.name, t.target, t.measured, t.pass ? "PASS" : "FAIL"])], {
      alignNumbers: false,
    }),
  );
  const pollutedWindows = [
    ...r.paths.filter((p) => polluted(p.redis, p.commands)).map((p) => p.name),
    ...(polluted(r.sale.redis, r.sale.commands) ? ["whole sale"] : []),
  ];
  if (pollutedWindows.length) {
    out.push(
      `Note: other clients used this redis during ${pollutedWindows.join(", ")}: commandstats is polluted there` +
        (r.monitor
          ? "; the Redis cmds/req figures count only the commands naming the bench's own sale keys (MONITOR)."
          : "; without redis-cli the figures above include them."),
    );
  }
  const totalSeconds = (Date.now() - run.startedAt) / 1000;
  out.push(`Bench took ${totalSeconds.toFixed(0)} s. Results: ${join(run.outDir, "edge.json")}`);
  process.stdout.write(`${out.join("\n")}\n`);

  const oversold = accepted > stock || unique !== accepted || soldInRedis > stock;
  const json = {
    runId: run.runId,
    startedAt: new Date(run.startedAt).toISOString(),
    durationSeconds: totalSeconds,
    machine: { cores: availableParallelism(), cpu: cpus()[0]?.model, node: process.version, loadavgAtEnd: loadavg() },
    settings: run.settings,
    build: {
      wrangler: r.built.wranglerVersion,
      ms: r.buildMs,
      runtime: `${edgeIsolates()} workerd isolates behind a round-robin, via the Miniflare ${miniflareVersion()} API`,
    },
    redisBackgroundPerSecond: { otherClients: r.backgroundPerSecond, originRelay: r.originBackgroundPerSecond, registeredOutboxes: r.registeredOutboxes },
    redisAttribution: r.monitor ? "redis-cli MONITOR, top-level commands naming the path's sale keys" : "INFO commandstats only",
    paths: Object.fromEntries(
      all.map((p) => [
        p.name,
        {
          description: p.description,
          rps: p.cannon.rps,
          ratioToHello: p.cannon.rps / helloRps,
          requests: p.cannon.requests,
          sent: p.cannon.sent,
          seconds: p.cannon.seconds,
          statusCodes: p.cannon.statusCodes,
          latencyMs: p.cannon.latencyMs,
          errors: p.cannon.errors,
          timeouts: p.cannon.timeouts,
          workerdCpuMicrosPerRequest: workerdMicros(p),
          redisCommands: p.commands,
          redisCommandsPerRequest: p.commandsPerRequest,
          redisOwn: p.redis.mine,
          commandstats: p.redis.usage,
          polluted: polluted(p.redis, p.commands),
          cpuCores: p.cpu.cores,
          cpuOthers: p.cpu.others,
        },
      ]),
    ),
    sale: {
      stock,
      buyers: run.settings.sale.buyers,
      saleId: r.sale.saleId,
      accepted,
      distinctOrderIds: unique,
      soldInRedis,
      outcomes: s.outcomes,
      edgeRequests: s.requests,
      byKind: s.byKind,
      redisCommands: r.sale.commands,
      redisCommandsPerEdgeRequest: saleCmdsPerReq,
      redisOwn: r.sale.redis.mine,
      commandstats: r.sale.redis.usage,
      polluted: polluted(r.sale.redis, r.sale.commands),
      durationMs: s.durationMs,
      lastAcceptedAtMs: s.lastAcceptedAtMs,
      firstSoldOutAtMs: s.firstSoldOutAtMs,
      latencyMs: s.latencyMs,
      cpuCores: r.sale.cpu.cores,
      cpuOthers: r.sale.cpu.others,
      errors: s.errors,
    },
    targets,
    oversold,
  };
  writeFileSync(join(run.outDir, "edge.json"), `${JSON.stringify(json, null, 2)}\n`);
  if (oversold) process.stderr.write("OVERSELL: the sale accepted more than its stock (or duplicated an order)\n");
  return oversold ? 1 : 0;
}
