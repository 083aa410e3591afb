import { setTimeout as sleep } from "node:timers/promises";
import { spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { StackHome } from "./home";

export interface DaemonSpec {
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface DaemonRecord {
  name: string;
  pid: number;
  /** Kernel start time of the process (clock ticks since boot): tells our process from a later one that reused its pid. */
  startTicks: number;
  command: string;
  log: string;
}

const pidFile = (home: StackHome, name: string) => join(home.run, `${name}.json`);
export const logFile = (home: StackHome, name: string) => join(home.logs, `${name}.log`);

/** The last lines of a log, for an error message that says why a part did not come up. */
export function tailOfFile(path: string, lines = 25): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

function startTicksOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime); the command name in field 2 may contain spaces, so count from its closing paren.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(rest[19]);
  } catch {
    return undefined;
  }
}

/** Starts a process in its own process group, detached from ours, logging to logs/<name>.log. */
export function startDaemon(home: StackHome, spec: DaemonSpec): DaemonRecord {
  const log = logFile(home, spec.name);
  const fd = openSync(log, "a");
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: spec.env ?? process.env,
    detached: true,
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${spec.name}: ${spec.command}`);
  child.unref();
  const record: DaemonRecord = {
    name: spec.name,
    pid: child.pid,
    startTicks: startTicksOf(child.pid) ?? 0,
    command: [spec.command, ...spec.args].join(" "),
    log,
  };
  writeFileSync(pidFile(home, spec.name), JSON.stringify(record, null, 2));
  return record;
}

/** The names of every daemon with a record under run/ (running or not): what `down` looks through. */
export const daemonNames = (home: StackHome): string[] =>
  readdirSync(home.run)
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -".json".length));

/** The daemon `name` if we started it and it is still that same process. */
export function runningDaemon(home: StackHome, name: string): DaemonRecord | undefined {
  let record: DaemonRecord;
  try {
    record = JSON.parse(readFileSync(pidFile(home, name), "utf8")) as DaemonRecord;
  } catch {
    return undefined;
  }
  const ticks = startTicksOf(record.pid);
  if (ticks === undefined || ticks !== record.startTicks || isZombie(record.pid)) return undefined;
  return record;
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

/**
 * The live processes of a group (a daemon and its children). Zombies do not count: once our child
 * exits it belongs to init, which may take its time to reap it, and `kill(-pgid, 0)` would still succeed.
 */
export function processesInGroup(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // fields[0] is the state, fields[2] the process group id.
      if (Number(fields[2]) === pgid && fields[0] !== "Z") members.push(Number(entry));
    } catch {
      /* exited while we looked */
    }
  }
  return members;
}

/** Whether any live process remains in the group. */
export const groupAlive = (pgid: number): boolean => processesInGroup(pgid).length > 0;

/**
 * Stops the whole process group (wrangler and workerd, java and its children): SIGTERM first so
 * services flush, SIGKILL after `graceMs`. Returns false when there was nothing of ours to stop.
 */
export async function stopDaemon(home: StackHome, name: string, graceMs = 10_000): Promise<boolean> {
  const record = runningDaemon(home, name);
  rmSync(pidFile(home, name), { force: true });
  if (!record) return false;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-record.pid, sig);
    } catch {
      /* already gone */
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (groupAlive(record.pid) && Date.now() < deadline) await sleep(100);
  if (groupAlive(record.pid)) {
    signal("SIGKILL");
    while (groupAlive(record.pid)) await sleep(50);
  }
  return true;
}

export { sleep };

/** Thrown from a readiness check to stop waiting at once (the process died). */
export class GiveUp extends Error {}

/** Polls `check` until it resolves truthy; the last error explains a timeout. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      if (error instanceof GiveUp) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : "";
      throw new Error(`${what} not ready after ${Math.round(timeoutMs / 1000)}s${why}`);
    }
    await sleep(everyMs);
  }
}
