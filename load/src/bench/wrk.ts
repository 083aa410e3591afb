import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { cpuBetween, sampleCpu, type CpuUse } from "./cpu";
import { parseWrkOutput, wrkScript, type WrkRequest, type WrkResult } from "./wrk-script";

/**
 * Runs `wrk` (Debian's package: `bash stack/scripts/install-prereqs.sh` installs it) against a
 * URL with a generated Lua script, and measures every process's CPU over the run's steady part,
 * so a figure always comes with the load generator's own CPU beside it.
 */

export const wrkAvailable = (): boolean => spawnSync("wrk", ["--version"], { stdio: "ignore" }).error === undefined;

/** Refuses clearly when wrk is missing: a bench without it would measure its own Node process. */
export function requireWrk(): void {
  if (wrkAvailable()) return;
  throw new Error(
    "wrk is not installed. It is the edge bench's load generator (autocannon in Node tops out below the edge).\n" +
      "  Install it with: bash stack/scripts/install-prereqs.sh   (Debian's wrk package; or: sudo apt-get install wrk)",
  );
}

export interface WrkRun {
  result: WrkResult;
  /** Every process's CPU between 0.5 s after the start and 0.3 s before the end: the steady state. */
  cpu: CpuUse;
  threads: number;
  connections: number;
}

export async function runWrk(
  url: URL,
  request: WrkRequest,
  o: { seconds: number; connections: number; threads?: number; ports?: readonly number[]; redisPid?: number | undefined },
): Promise<WrkRun> {
  const threads = o.threads ?? 1;
  const dir = mkdtempSync(join(tmpdir(), "fluxgate-wrk-"));
  const script = join(dir, "flood.lua");
  writeFileSync(script, wrkScript(request, o.ports ? { ports: o.ports } : {}));
  try {
    const child = spawn("wrk", [`-t${threads}`, `-c${Math.max(threads, o.connections)}`, `-d${o.seconds}s`, "--timeout", "10s", "-s", script, url.origin], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => resolve(code));
    });
    // CPU over the steady part only: connection set-up and the last in-flight requests stay out,
    // and the window closes before wrk exits (a process gone by the second sample is not counted).
    const steadyMs = Math.max(100, o.seconds * 1000 - 800);
    await sleep(500);
    const a = sampleCpu();
    await sleep(steadyMs);
    const b = sampleCpu();
    const code = await exited;
    if (code !== 0) throw new Error(`wrk exited with ${code}: ${stderr || stdout}`);
    return { result: parseWrkOutput(stdout), cpu: cpuBetween(a, b, o.redisPid), threads, connections: o.connections };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
