import type { Bottleneck, GeneratorUse } from "./saturation";
import { describeBottleneck } from "./saturation";
import { fmtNumber as n, markdownRow as row } from "./table";

/** One steady run of bench:realpath as the curve of latency by load shows it. */
export interface LoadStep {
  rate: number;
  achieved: number;
  clientMs: { p50: number; p99: number };
  latencyMs: { p50: number; p99: number } | null;
  machineCores: number;
  steal: number;
  busiest: { part: string; cores: number };
  generatorCores: number;
}

/** What `npm run bench:realpath` writes (.fluxgate/bench/realpath.json). */
export interface RealpathJson {
  at: string;
  commit: string;
  dirty: string[];
  loadavgAtStart: number[];
  machine: { cpus: number; model?: string };
  settings: { rate: number; seconds: number; share: number; ceilingSeconds: number; ceilingConnections: number; connections: number };
  ceiling: { rps: number; seconds: number; generator: GeneratorUse; bottleneck: Bottleneck } | null;
  load: { rate: number; accepted: number };
  bottleneck: Bottleneck;
  generator: GeneratorUse;
  latencyMs: { p50: number; p99: number; max: number } | null;
  segments: Record<"acceptedToProduced" | "producedToPersisted", { p50: number; p99: number }>;
  target: { name: string; wanted: string; measured: string; ok: boolean };
  /** Every steady run of the bench, lightest first, the judged one last (absent before they were measured). */
  byLoad?: LoadStep[];
}

/** The real path's section of BENCHMARKS.md: the ceiling and what bounds it, then p99 at a share of it, same run. */
export function realpathSection(r: RealpathJson): string {
  const c = r.ceiling;
  const cores = r.machine.cpus;
  const ms = (x: { p50: number; p99: number }) => `${x.p50} ms / ${x.p99} ms`;
  return `## The real path (\`npm run bench:realpath\`, ${r.at.slice(0, 16).replace("T", " ")} UTC)

Measured at commit \`${r.commit.slice(0, 12)}\`${r.dirty.length ? " (plus uncommitted changes)" : ""}, 1-minute load average ${n(r.loadavgAtStart[0] ?? NaN, 1)} at the start, on the running
local stack: buyers (this machine) → the stack's edge (4 workerd isolates behind its router) → its waitUntil forward →
origin → Kafka → worker → PostgreSQL, every order a distinct signed-in buyer's. The latency is PostgreSQL's own
\`persisted_at − accepted_at\` (Redis' clock at the gate), split at the Kafka record's timestamp.

${row(["measure", "result", "generator CPU", "at 100% when it peaked"])}
${row(["---", "---:", "---:", "---"])}
${
  c
    ? `${row([`accepted-path ceiling: wrk, ${r.settings.ceilingConnections} connections, ${r.settings.ceilingSeconds} s, as fast as answered`, `**${n(c.rps)} accepted orders/s**`, `wrk ${n(c.generator.cores, 2)} of ${c.generator.threads}`, describeBottleneck(c.bottleneck, cores)])}\n`
    : ""
}${row([`steady run: ${c ? `${n(r.settings.share * 100)}% of the ceiling, ` : ""}${n(r.settings.rate)}/s asked for ${r.settings.seconds} s (evenly spaced arrivals, open loop, ≤ ${r.settings.connections} connections), achieved`, `${n(r.load.rate)} accepted orders/s`, `paced sender ${n(r.generator.cores, 2)} of 1`, describeBottleneck(r.bottleneck, cores)])}
${row(["… accepted → persisted, p50 / p99", r.latencyMs ? `**${ms(r.latencyMs)}**` : "none persisted", "", ""])}
${row(["… of which accepted → produced (edge's forward, origin, producer queue), p50 / p99", ms(r.segments.acceptedToProduced), "", ""])}
${row(["… of which produced → persisted (broker, consumer fetch, batch), p50 / p99", ms(r.segments.producedToPersisted), "", ""])}

${byLoad(r)}${row(["target", "wanted", "measured", ""])}
${row(["---", "---", "---", "---"])}
${row([r.target.name, r.target.wanted, r.target.measured, r.target.ok ? "✅" : "❌"])}
`;
}

/** Latency by load: where the knee is on this machine (every component and the generator share its cores). */
function byLoad(r: RealpathJson): string {
  if (!r.byLoad?.length) return "";
  const ceiling = r.ceiling?.rps;
  const rows = r.byLoad.map((b) =>
    row([
      `${n(b.rate)}/s${ceiling ? ` (${n((b.rate / ceiling) * 100)}% of the ceiling)` : ""}`,
      `${n(b.achieved)}/s`,
      b.latencyMs ? `${b.latencyMs.p50} ms / ${b.latencyMs.p99} ms` : "none persisted",
      `${b.clientMs.p50} ms / ${b.clientMs.p99} ms`,
      `${n(b.machineCores, 2)} of ${r.machine.cpus}`,
      `${b.busiest.part} ${n(b.busiest.cores, 2)}`,
      n(b.generatorCores, 2),
    ]),
  );
  return `By load, each a steady run of its own (evenly spaced arrivals, distinct buyers), the judged one last:

${row(["asked", "achieved", "accepted → persisted p50 / p99", "client p50 / p99 (from each request's due time)", "machine CPU", "busiest process", "paced sender CPU"])}
${row(["---:", "---:", "---:", "---:", "---:", "---", "---:"])}
${rows.join("\n")}

`;
}
