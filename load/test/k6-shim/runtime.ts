/**
 * Just enough of k6's runtime to run our k6 scripts in Node against the local stack: one virtual
 * user at a time, synchronous HTTP (as k6's is) through curl, per-VU cookie jars, checks,
 * counters and threshold evaluation. k6 itself cannot be installed here; this proves the
 * scripts' own logic, not k6.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const state = {
  checks: { passes: 0, fails: 0, failed: [] as string[] },
  counters: new Map<string, number>(),
  jars: mkdtempSync(join(tmpdir(), "k6-shim-")),
  maxRedirects: 10,
};

export function reset(): void {
  state.checks = { passes: 0, fails: 0, failed: [] };
  state.counters.clear();
}

export interface ShimResponse {
  status: number;
  body: string;
  headers: Record<string, string>;
  json(path?: string): unknown;
}

/** Header names as k6 shows them: Canonical-Case. */
const canonical = (name: string) => name.toLowerCase().replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());

export function request(method: string, url: string, body: string | undefined, params: { headers?: Record<string, string> } = {}): ShimResponse {
  const vu = String((globalThis as { __VU?: number }).__VU ?? 0);
  const jar = join(state.jars, `vu-${vu}.txt`);
  const args = ["-s", "-i", "-X", method, "-b", jar, "-c", jar, "--max-time", "30"];
  if (state.maxRedirects > 0) args.push("-L", "--max-redirs", String(state.maxRedirects));
  for (const [name, value] of Object.entries(params.headers ?? {})) args.push("-H", `${name}: ${value}`);
  if (body !== undefined) args.push("--data-binary", body);
  args.push(url);
  const raw = execFileSync("curl", args, { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  // With -L every hop's head is printed: the last one describes the final response.
  const parts = raw.split(/\r?\n\r?\n/);
  let i = 0;
  while (i + 1 < parts.length && /^HTTP\/[\d.]+ \d{3}/.test(parts[i + 1]!)) i++;
  const [statusLine, ...headerLines] = parts[i]!.split(/\r?\n/);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[canonical(line.slice(0, colon).trim())] = line.slice(colon + 1).trim();
  }
  const text = parts.slice(i + 1).join("\n\n");
  return {
    status: Number(/^HTTP\/[\d.]+ (\d{3})/.exec(statusLine!)?.[1] ?? 0),
    body: text,
    headers,
    json(path?: string) {
      const value = JSON.parse(text) as Record<string, unknown>;
      return path ? value[path] : value;
    },
  };
}

/** k6's threshold expressions we use: `count<=N`, `count==N`, `rate==X`. */
export function thresholdHolds(metric: string, expression: string): boolean {
  const [, aggregate, op, limit] = /^(count|rate)\s*(<=|==|<|>=|>)\s*([\d.]+)$/.exec(expression) ?? [];
  const value =
    aggregate === "rate" && metric === "checks"
      ? state.checks.passes / Math.max(1, state.checks.passes + state.checks.fails)
      : (state.counters.get(metric) ?? 0);
  const n = Number(limit);
  switch (op) {
    case "<=":
      return value <= n;
    case "<":
      return value < n;
    case ">=":
      return value >= n;
    case ">":
      return value > n;
    case "==":
      return value === n;
    default:
      throw new Error(`threshold the shim does not know: ${metric}: ${expression}`);
  }
}

/** The parts of a k6 scenario that say how many iterations it starts. */
export interface ScenarioOptions {
  executor: string;
  vus?: number;
  iterations?: number;
  startRate?: number;
  timeUnit?: string;
  stages?: { target: number; duration: string }[];
}

const seconds = (duration: string) => {
  const [, value, unit] = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(duration) ?? [];
  if (!value) throw new Error(`duration the shim does not know: ${duration}`);
  return Number(value) * { ms: 0.001, s: 1, m: 60 }[unit as "ms" | "s" | "m"];
};

/**
 * How many iterations k6 would start for a scenario. The shim runs them one after the other: it
 * proves what each arrival does and what the run counts, not the pacing (k6 itself does that).
 * An arrival-rate scenario starts the integral of its rate: each stage ramps linearly to its target.
 */
export function plannedIterations(scenario: ScenarioOptions): number {
  switch (scenario.executor) {
    case "shared-iterations":
      return scenario.iterations ?? 1;
    case "per-vu-iterations":
      return (scenario.vus ?? 1) * (scenario.iterations ?? 1);
    case "ramping-arrival-rate": {
      let rate = scenario.startRate ?? 0;
      let arrivals = 0;
      for (const stage of scenario.stages ?? []) {
        arrivals += ((rate + stage.target) / 2) * seconds(stage.duration);
        rate = stage.target;
      }
      return Math.round(arrivals / seconds(scenario.timeUnit ?? "1s"));
    }
    default:
      throw new Error(`executor the shim does not know: ${scenario.executor}`);
  }
}
