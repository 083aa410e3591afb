import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { availableParallelism } from "node:os";
import { repoRoot } from "@fluxgate/stack";

/**
 * Who burnt the CPU during a phase, from /proc (Linux): the profile that answers "is it the
 * bridge, workerd, or the load generator?" on a 2-core machine. Each process's utime+stime delta
 * is attributed to a part of the system by its command line; a stack's services count only when
 * they are this checkout's (other checkouts' stacks may share the machine: they are "other").
 */

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux this runs on

interface Proc {
  pid: number;
  ppid: number;
  ticks: number;
  /** Start time, clock ticks since boot. */
  start: number;
  cmd: string;
  /** Working directory, or "" when unreadable. */
  cwd: string;
}

function readProcs(): Map<number, Proc> {
  const procs = new Map<number, Proc>();
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return procs;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name is in parentheses and may contain spaces: parse after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ppid = Number(rest[1]);
      const ticks = Number(rest[11]) + Number(rest[12]);
      const start = Number(rest[19]);
      const cmd =
        readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ").trim() || `[${stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))}]`;
      let cwd = "";
      try {
        cwd = readlinkSync(`/proc/${entry}/cwd`);
      } catch {
        /* another user's process */
      }
      procs.set(Number(entry), { pid: Number(entry), ppid, ticks, start, cmd, cwd });
    } catch {
      /* the process ended meanwhile */
    }
  }
  return procs;
}

function descendsFrom(procs: Map<number, Proc>, pid: number, ancestor: number): boolean {
  for (let p = procs.get(pid), hops = 0; p && hops < 64; p = procs.get(p.ppid), hops++) {
    if (p.ppid === ancestor) return true;
  }
  return false;
}

export type CpuLabel =
  | "bench (load gen)"
  | "wrk (load gen)"
  | "workerd (bench)"
  | "workerd (stack edge)"
  | "bridge"
  | "redis"
  | "redis-cli monitor"
  | "origin"
  | "worker"
  | "kafka"
  | "postgres"
  | "other";

/** This checkout's process: started from it, or running its node_modules (workerd). */
const ours = (p: Proc) => p.cwd === repoRoot || p.cwd.startsWith(`${repoRoot}/`) || p.cmd.includes(`${repoRoot}/`);

function label(procs: Map<number, Proc>, p: Proc, redisPid: number | undefined): CpuLabel {
  if (p.pid === process.pid) return "bench (load gen)";
  if (/^(\S*\/)?wrk /.test(p.cmd) && descendsFrom(procs, p.pid, process.pid)) return "wrk (load gen)";
  if (p.cmd.includes("workerd") && descendsFrom(procs, p.pid, process.pid)) return "workerd (bench)";
  if (p.cmd.includes("/workerd ") && ours(p)) return "workerd (stack edge)";
  if (redisPid !== undefined ? p.pid === redisPid : p.cmd.startsWith("redis-server")) return "redis";
  if (p.cmd.startsWith("redis-cli") && descendsFrom(procs, p.pid, process.pid)) return "redis-cli monitor";
  if (!ours(p)) return p.cmd.startsWith("postgres") || p.cmd.includes("/postgres ") ? "postgres" : "other";
  if (p.cmd.includes("bridge/src/main.ts")) return "bridge";
  if (p.cmd.includes("origin/src/main.ts")) return "origin";
  if (p.cmd.includes("worker/src/main.ts")) return "worker";
  if (p.cmd.includes("java") && p.cmd.toLowerCase().includes("kafka")) return "kafka";
  if (p.cmd.startsWith("postgres") || p.cmd.includes("/postgres ")) return "postgres";
  return "other";
}

export interface CpuSample {
  at: number;
  /** Seconds since boot (/proc/uptime), to tell processes born inside a window. */
  uptime: number;
  procs: Map<number, Proc>;
  /** The machine's steal ticks (/proc/stat): time the hypervisor gave our vCPUs to someone else. */
  steal: number;
}

const uptime = () => {
  try {
    return Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
  } catch {
    return 0;
  }
};

/** The "steal" column of /proc/stat's cpu line (the 8th value), 0 where there is none. */
const stealTicks = () => {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    return Number(line.trim().split(/\s+/)[8] ?? 0) || 0;
  } catch {
    return 0;
  }
};

export const sampleCpu = (): CpuSample => ({ at: performance.now(), uptime: uptime(), procs: readProcs(), steal: stealTicks() });

/** A short name for a process outside the system under test: its program and, for node/java, its script. */
function shortName(cmd: string): string {
  const args = cmd.split(" ");
  const prog = (args[0] ?? "?").split("/").at(-1)!;
  const script = args.slice(1).find((a) => !a.startsWith("-") && /[/.]/.test(a));
  return prog === "node" || prog === "java" ? `${prog} ${(script ?? "").split("/").slice(-2).join("/")}`.trim() : prog;
}

export interface CpuUse {
  seconds: number;
  cores: Record<string, number>;
  /** The busiest single process of each part (cores): a part at ~1.0 here has a single-threaded process saturated. */
  peak: Record<string, number>;
  /** The biggest consumers inside "other" (other sessions' tests, tools…): noise on a shared machine. */
  others: Record<string, number>;
  capacity: number;
  /**
   * Cores the hypervisor took away (steal) over the window: on a shared VM every process then ran
   * slower than its own CPU says, so a window with much of it measures the neighbours too.
   */
  steal: number;
}

/** Cores used per part between two samples (1.0 = one core fully busy), plus the machine's total. */
export function cpuBetween(a: CpuSample, b: CpuSample, redisPid?: number): CpuUse {
  const seconds = (b.at - a.at) / 1000;
  const cores: Record<string, number> = {};
  const peak: Record<string, number> = {};
  const others: Record<string, number> = {};
  for (const [pid, p] of b.procs) {
    const before = a.procs.get(pid);
    const same = before !== undefined && before.start === p.start;
    // A process missing from the first sample counts only if it was born inside the window.
    if (!same && p.start < a.uptime * TICKS_PER_SECOND - TICKS_PER_SECOND) continue;
    const used = p.ticks - (same ? before.ticks : 0);
    if (used <= 0) continue;
    const name = label(b.procs, p, redisPid);
    const share = used / TICKS_PER_SECOND / seconds;
    cores[name] = (cores[name] ?? 0) + share;
    peak[name] = Math.max(peak[name] ?? 0, share);
    if (name === "other") others[shortName(p.cmd)] = (others[shortName(p.cmd)] ?? 0) + share;
  }
  const round = (o: Record<string, number>) => {
    for (const k of Object.keys(o)) o[k] = Math.round(o[k]! * 100) / 100;
  };
  round(cores);
  round(peak);
  round(others);
  const topOthers = Object.fromEntries(
    Object.entries(others)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 3)
      .filter(([, v]) => v >= 0.05),
  );
  const steal = Math.round(((b.steal - a.steal) / TICKS_PER_SECOND / seconds) * 100) / 100;
  return { seconds, cores, peak, others: topOthers, capacity: availableParallelism(), steal: Math.max(0, steal) };
}

export function describeCpu(c: CpuUse): string {
  const total = Object.values(c.cores).reduce((a, b) => a + b, 0);
  const parts = Object.entries(c.cores)
    .filter(([, v]) => v >= 0.01)
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) =>
      k === "other" && Object.keys(c.others).length
        ? `other ${v.toFixed(2)} (${Object.entries(c.others)
            .map(([n, x]) => `${n} ${x.toFixed(2)}`)
            .join(", ")})`
        : `${k} ${v.toFixed(2)}`,
    );
  return `${total.toFixed(2)}/${c.capacity} cores: ${parts.join(", ")}${c.steal >= 0.01 ? `; the hypervisor took ${c.steal.toFixed(2)} (steal)` : ""}`;
}
