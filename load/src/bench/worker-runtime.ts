import { execFile } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { wranglerCli } from "@fluxgate/stack";
import { compatibilityDate, compatibilityFlags, moduleRules, repoRoot } from "./env";

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
  const { stdout } = await run(process.execPath, [wranglerCli(), "deploy", "--dry-run", "--outdir", outdir, "--config", "wrangler.toml", ...minify], {
    cwd: repoRoot,
    env,
    maxBuffer: 16 * 1024 * 1024,
  });
  const version = /wrangler (\d+\.\d+\.\d+)/.exec(stdout)?.[1] ?? "unknown";
  const scriptPath = join(outdir, "index.js");
  if (!existsSync(scriptPath)) throw new Error(`wrangler wrote no ${scriptPath}:\n${stdout}`);
  return { scriptPath, wranglerVersion: version };
}

export interface RunningWorker {
  url: URL;
  mf: Miniflare;
  dispose: () => Promise<void>;
}

/**
 * One worker on workerd through the Miniflare API: requests go straight to workerd's socket,
 * nothing is proxied through Node (which is what caps `wrangler dev`). Worker stdout/stderr go
 * to `logPath`, so they never tear the progress bar.
 */
export async function startWorker(options: {
  name: string;
  scriptPath?: string;
  script?: string;
  bindings?: Record<string, string>;
  logPath: string;
  /** Expose the V8 inspector (for profiling); the bench itself leaves it off. */
  inspectorPort?: number;
}): Promise<RunningWorker> {
  const log = createWriteStream(options.logPath, { flags: "a" });
  log.write(`\n--- ${new Date().toISOString()} ${options.name}\n`);
  // Module names are paths relative to modulesRoot; from the bundle's own folder none needs "..".
  const source = options.scriptPath
    ? { scriptPath: options.scriptPath, modulesRoot: dirname(options.scriptPath) }
    : { script: options.script ?? "" };
  // Miniflare 5 takes a new options shape; the v4 one (a worker's script, modules, bindings) converts.
  const mf = new Miniflare(convertV4MiniflareOptions({
    name: options.name,
    modules: true,
    modulesRules: moduleRules(),
    ...source,
    compatibilityDate: compatibilityDate(),
    compatibilityFlags: compatibilityFlags(),
    bindings: options.bindings ?? {},
    ...(options.inspectorPort !== undefined ? { inspectorPort: options.inspectorPort } : {}),
    handleStructuredLogs({ timestamp, level, message }) {
      log.write(`${new Date(timestamp).toISOString()} ${level} ${message}\n`);
    },
  }));
  const url = await mf.ready;
  return {
    url,
    mf,
    dispose: async () => {
      await mf.dispose();
      log.end();
    },
  };
}

/**
 * What the bundled Lua scripts call (`redis.call('X', …)`, lower-cased), and whether HMGET can be
 * told apart: it can when every script that calls HMGET calls it exactly once, as its first
 * command (the gate reads the sale first), so each script run accounts for one HMGET at most.
 */
export function luaCommandsIn(scriptPath: string): { commands: Set<string>; gateOpensWithHmget: boolean } {
  const bundle = readFileSync(scriptPath, "utf8");
  const call = /redis\.call\(\s*'([A-Za-z]+)'/g;
  const commands = new Set([...bundle.matchAll(call)].map((m) => m[1]!.toLowerCase()));
  // esbuild keeps the scripts as template literals: one backtick-delimited segment per script.
  const scripts = bundle.split("`").filter((segment) => segment.includes("redis.call("));
  const withHmget = scripts.map((s) => [...s.matchAll(call)].map((m) => m[1]!.toUpperCase())).filter((calls) => calls.includes("HMGET"));
  const gateOpensWithHmget = withHmget.length > 0 && withHmget.every((calls) => calls[0] === "HMGET" && calls.filter((c) => c === "HMGET").length === 1);
  return { commands, gateOpensWithHmget };
}
