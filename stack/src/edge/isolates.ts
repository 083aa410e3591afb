import { createWriteStream } from "node:fs";
import { dirname } from "node:path";
import { convertV4MiniflareOptions, Miniflare, type V4WorkerOptions as WorkerOptions } from "miniflare";
import { bundleModules, compatibilityDate, compatibilityFlags } from "./bundle";

/** How many isolates the local edge runs when EDGE_ISOLATES does not say. */
const DEFAULT_EDGE_ISOLATES = 4;

/** The response header naming the isolate that answered, "<i>/<n>" (0-based), so a client can see the spread. */
export const ISOLATE_HEADER = "x-edge-isolate";

/** The isolate that answered and how many there are, from a response of the local edge. */
export function isolateOf(headers: Headers): { index: number; of: number } | undefined {
  const match = /^(\d+)\/(\d+)$/.exec(headers.get(ISOLATE_HEADER) ?? "");
  return match ? { index: Number(match[1]), of: Number(match[2]) } : undefined;
}

export function edgeIsolates(raw = process.env.EDGE_ISOLATES): number {
  if (raw === undefined || raw === "") return DEFAULT_EDGE_ISOLATES;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`EDGE_ISOLATES must be an integer from 1 to 64, got ${raw}`);
  return n;
}

/**
 * The router: each request goes to the next isolate in turn, with no stickiness, the way the
 * production network spreads one sale's crowd (and a client's retries) over many isolates. It runs
 * inside workerd too and reaches the isolates through service bindings: no Node in the path.
 */
const routerScript = (isolates: number) => `
let next = 0;
export default {
  async fetch(request, env) {
    const i = next;
    next = (next + 1) % ${isolates};
    const res = await env["ISOLATE_" + i].fetch(request);
    const out = new Response(res.body, res);
    out.headers.set(${JSON.stringify(ISOLATE_HEADER)}, i + "/${isolates}");
    return out;
  },
};`;

export interface IsolatesOptions {
  /** The bundle (`buildEdge`), or an inline ES module. */
  scriptPath?: string;
  script?: string;
  isolates: number;
  bindings?: Record<string, string>;
  /** Worker stdout/stderr go here, so they never tear a progress bar. */
  logPath: string;
  host?: string;
  /** 0 or absent: any free port. */
  port?: number;
  /** Exposes the V8 inspector (for profiling). */
  inspectorPort?: number;
}

export interface RunningIsolates {
  url: URL;
  isolates: number;
  mf: Miniflare;
  dispose: () => Promise<void>;
}

/**
 * N copies of one worker in one workerd process, each its own isolate with its own module state
 * (what an isolate remembers is not shared), behind the round-robin router. Requests reach
 * workerd's socket directly: nothing is proxied through Node, which is what caps `wrangler dev`.
 */
export async function startIsolates(o: IsolatesOptions): Promise<RunningIsolates> {
  const log = createWriteStream(o.logPath, { flags: "a" });
  log.write(`\n--- ${new Date().toISOString()} ${o.isolates} isolate(s)\n`);
  const source = o.scriptPath ? { modules: bundleModules(o.scriptPath), modulesRoot: dirname(o.scriptPath) } : { modules: true, script: o.script ?? "" };
  const runtime = { compatibilityDate: compatibilityDate(), compatibilityFlags: compatibilityFlags() };
  const copies: WorkerOptions[] = Array.from({ length: o.isolates }, (_, i) => ({
    name: `edge-${i}`,
    ...source,
    ...runtime,
    bindings: o.bindings ?? {},
  }));
  const router: WorkerOptions = {
    name: "router",
    modules: true,
    script: routerScript(o.isolates),
    ...runtime,
    serviceBindings: Object.fromEntries(copies.map((copy, i) => [`ISOLATE_${i}`, copy.name!])),
  };
  // Miniflare 5 takes a new options shape; the v4 one (scripts, modules, bindings) converts.
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: o.host ?? "127.0.0.1",
      port: o.port ?? 0,
      ...(o.inspectorPort !== undefined ? { inspectorPort: o.inspectorPort } : {}),
      // The first worker receives every request.
      workers: [router, ...copies],
      handleStructuredLogs({ timestamp, level, message }) {
        log.write(`${new Date(timestamp).toISOString()} ${level} ${message}\n`);
      },
    }),
  );
  const url = await mf.ready;
  return {
    url,
    isolates: o.isolates,
    mf,
    dispose: async () => {
      await mf.dispose();
      log.end();
    },
  };
}
