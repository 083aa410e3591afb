import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { repoRoot, wranglerCli } from "../home";

/**
 * The edge as `wrangler deploy` builds it, and the settings of the root wrangler.toml that a
 * runtime needs to run that bundle the way Cloudflare would (compatibility date and flags, module
 * rules, [vars]). Shared by the stack's edge, the demo and the benchmarks.
 */

const run = promisify(execFile);

/**
 * Bundles the edge exactly as `wrangler deploy` would, without deploying: works offline.
 * Returns the path of the ES module (index.js) in `outdir`.
 */
export async function buildEdge(outdir: string, options: { minify?: boolean } = {}): Promise<{ scriptPath: string; wranglerVersion: string }> {
  mkdirSync(outdir, { recursive: true });
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", NO_UPDATE_NOTIFIER: "1" };
  // Without a flag wrangler.toml decides (as for a deploy); profiles want readable names: --no-minify.
  const minify = options.minify === undefined ? [] : [options.minify ? "--minify" : "--no-minify"];
  // `--env=` is wrangler.toml's top level, the local edge (a deployment runs `--env production`).
  const args = ["deploy", "--dry-run", "--outdir", outdir, "--config", "wrangler.toml", "--env=", ...minify];
  const { stdout } = await run(process.execPath, [wranglerCli(), ...args], {
    cwd: repoRoot,
    env,
    maxBuffer: 16 * 1024 * 1024,
  });
  const version = /wrangler (\d+\.\d+\.\d+)/.exec(stdout)?.[1] ?? "unknown";
  const scriptPath = join(outdir, "index.js");
  if (!existsSync(scriptPath)) throw new Error(`wrangler wrote no ${scriptPath}:\n${stdout}`);
  return { scriptPath, wranglerVersion: version };
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

/**
 * The modules of a bundle wrangler wrote: its entry (index.js) first, then each file beside it
 * that a module rule claims (the HTML pages it imports as Text, …), typed by that rule. Miniflare 5
 * no longer applies rules itself.
 */
export function bundleModules(scriptPath: string): { type: "ESModule" | "Text" | "Data" | "CompiledWasm"; path: string }[] {
  const dir = dirname(scriptPath);
  const rules = moduleRules();
  const matches = (glob: string, file: string) => file.endsWith(glob.replace(/^\*\*\/\*/, "").replace(/\?module$/, ""));
  const others = readdirSync(dir).flatMap((file) => {
    const rule = rules.find((r) => r.include.some((glob) => matches(glob, file)));
    return rule && join(dir, file) !== scriptPath ? [{ type: rule.type, path: join(dir, file) }] : [];
  });
  return [{ type: "ESModule", path: scriptPath }, ...others];
}

/** compatibility_flags from wrangler.toml, if any (one-line array form). */
export function compatibilityFlags(): string[] {
  const toml = readFileSync(join(repoRoot, "wrangler.toml"), "utf8");
  const match = /^\s*compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml);
  if (!match) return [];
  return [...match[1]!.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
}
