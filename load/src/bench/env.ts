import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ensureDevVars, repoRoot, stackHome } from "@fluxgate/stack";

export { repoRoot };

/** Where the stack keeps its state: the stack's own rule (FLUXGATE_HOME or <repo>/.fluxgate). */
export const fluxgateHome = () => stackHome().root;

/** The parts of .fluxgate/stack.json (written by `npm run up`) the bench needs. */
export interface StackInfo {
  redisUrl: string;
  bridgeUrl: string;
  bridgeToken: string;
  originUrl: string;
  /** The stack's own edge (`wrangler dev`). */
  edgeUrl: string;
}

function readStackJson(): StackInfo | undefined {
  try {
    const s = JSON.parse(readFileSync(join(fluxgateHome(), "stack.json"), "utf8")) as {
      redis: { url: string };
      bridge: { url: string; token: string };
      origin: { url: string };
      edge: { url: string };
    };
    return { redisUrl: s.redis.url, bridgeUrl: s.bridge.url, bridgeToken: s.bridge.token, originUrl: s.origin.url, edgeUrl: s.edge.url };
  } catch {
    return undefined;
  }
}

async function answers(stack: StackInfo): Promise<boolean> {
  try {
    const bridge = await fetch(stack.bridgeUrl, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.bridgeToken}`, "content-type": "application/json" },
      body: JSON.stringify(["PING"]),
      signal: AbortSignal.timeout(3_000),
    });
    const origin = await fetch(new URL("/health", stack.originUrl), { signal: AbortSignal.timeout(3_000) });
    await origin.body?.cancel();
    return bridge.ok && origin.ok;
  } catch {
    return false;
  }
}

/**
 * The running local stack; when it is not (fully) up, `npm run up` starts what is missing
 * (idempotent: it changes nothing that runs) and the state is read again.
 */
export async function ensureStack(log: (line: string) => void): Promise<StackInfo> {
  const known = readStackJson();
  if (known && (await answers(known))) return known;
  log("the local stack is not answering: running `npm run up` …");
  const up = spawnSync("npm", ["run", "--silent", "up"], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] });
  if (up.status !== 0) throw new Error(`npm run up failed (exit ${up.status})`);
  const started = readStackJson();
  if (!started || !(await answers(started))) throw new Error("the stack still does not answer after `npm run up`: see .fluxgate/logs/");
  return started;
}

/** The local secrets (.dev.vars), as the stack keeps them: written from .dev.vars.example when missing. */
export function readDevVars(): Record<string, string> {
  return Object.fromEntries(ensureDevVars());
}

/** compatibility_date from the root wrangler.toml, so Miniflare runs the worker as wrangler would. */
export function compatibilityDate(): string {
  const toml = readFileSync(join(repoRoot, "wrangler.toml"), "utf8");
  const match = /^\s*compatibility_date\s*=\s*"([^"]+)"/m.exec(toml);
  if (!match) throw new Error("wrangler.toml has no compatibility_date");
  return match[1]!;
}

/** The top-level keys of one `[section]` (or each `[[section]]`) of wrangler.toml: a small reader for the flat forms used there. */
function tomlSections(name: string): Record<string, string>[] {
  const toml = readFileSync(join(repoRoot, "wrangler.toml"), "utf8");
  const sections: Record<string, string>[] = [];
  let current: Record<string, string> | undefined;
  for (const raw of toml.split("\n")) {
    const line = raw.replace(/^\s+|\s+$/g, "");
    const header = /^\[\[?([^\]]+)\]\]?$/.exec(line);
    if (header) {
      current = header[1] === name ? {} : undefined;
      if (current) sections.push(current);
      continue;
    }
    const kv = /^([A-Za-z0-9_]+)\s*=\s*(.+)$/.exec(line);
    if (current && kv) current[kv[1]!] = kv[2]!.replace(/\s+#.*$/, "");
  }
  return sections;
}

const tomlString = (value: string) => /^"(.*)"$/.exec(value)?.[1];

/** [vars] of wrangler.toml (plain string values), as `wrangler deploy` would bind them. */
export function wranglerVars(): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const section of tomlSections("vars")) {
    for (const [key, value] of Object.entries(section)) {
      const text = tomlString(value);
      if (text !== undefined) vars[key] = text;
    }
  }
  return vars;
}

/**
 * Module rules for the files wrangler writes next to its bundle (e.g. an HTML page imported as
 * Text): wrangler.toml's [[rules]] first, then wrangler's defaults.
 */
export function moduleRules(): { type: "Text" | "Data" | "CompiledWasm"; include: string[] }[] {
  const rules: { type: "Text" | "Data" | "CompiledWasm"; include: string[] }[] = [];
  for (const section of tomlSections("rules")) {
    const type = tomlString(section.type ?? "");
    const globs = [...(section.globs ?? "").matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
    if ((type === "Text" || type === "Data" || type === "CompiledWasm") && globs.length) rules.push({ type, include: globs });
  }
  rules.push({ type: "Text", include: ["**/*.txt", "**/*.html", "**/*.sql"] });
  rules.push({ type: "Data", include: ["**/*.bin"] });
  rules.push({ type: "CompiledWasm", include: ["**/*.wasm", "**/*.wasm?module"] });
  return rules;
}

/** compatibility_flags from wrangler.toml, if any (one-line array form). */
export function compatibilityFlags(): string[] {
  const toml = readFileSync(join(repoRoot, "wrangler.toml"), "utf8");
  const match = /^\s*compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml);
  if (!match) return [];
  return [...match[1]!.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
}

/** Integer setting from the environment, e.g. BENCH_SECONDS=5. */
export function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got ${raw}`);
  return value;
}
