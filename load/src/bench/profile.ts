import { WebSocket } from "undici";

/**
 * A V8 CPU profile of a worker running in workerd, through the inspector Miniflare exposes
 * (`inspectorPort`): Profiler.start, run the load, Profiler.stop, then self time per function.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export class Inspector {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly ws: WebSocket) {
    ws.addEventListener("message", (event) => {
      const msg = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
      if (msg.id === undefined) return;
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result);
    });
  }

  /** Connects to the worker named `workerName` on the inspector at `base` (Miniflare's getInspectorURL()). */
  static async connect(base: URL, workerName: string): Promise<Inspector> {
    const targets = (await (await fetch(new URL("/json", `http://${base.host}`))).json()) as { id: string; title?: string; webSocketDebuggerUrl: string }[];
    const target = targets.find((t) => t.id.endsWith(workerName) || t.title?.includes(workerName)) ?? targets[0];
    if (!target) throw new Error(`no inspector target on ${base}`);
    const ws = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error(`cannot open ${target.webSocketDebuggerUrl}`)), { once: true });
    });
    return new Inspector(ws);
  }

  send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async profile<T>(work: () => Promise<T>, samplingIntervalUs = 200): Promise<{ result: T; profile: CpuProfile }> {
    await this.send("Profiler.enable");
    await this.send("Profiler.setSamplingInterval", { interval: samplingIntervalUs });
    await this.send("Profiler.start");
    const result = await work();
    const { profile } = await this.send<{ profile: CpuProfile }>("Profiler.stop");
    return { result, profile };
  }

  close(): void {
    this.ws.close();
  }
}

export interface ProfileSummary {
  selfMs: { fn: string; ms: number; pct: number }[];
  /** Time in a function and everything it called (recursion counted once per stack). */
  inclusive: { fn: string; pct: number }[];
  byFile: { file: string; pct: number }[];
  totalMs: number;
}

/** Self time per function (top `limit`), inclusive time, and the share of samples in each source file. */
export function summarize(profile: CpuProfile, limit = 30): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + (deltas[i + 1] ?? deltas[i] ?? 0));
  const totalUs = [...self.values()].reduce((a, b) => a + b, 0) || 1;
  const perFn = new Map<string, number>();
  const perFile = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const cf = n.callFrame;
    const file = cf.url ? cf.url.split("/").at(-1)! : "(native)";
    const name = `${cf.functionName || "(anonymous)"} ${cf.url ? `${file}:${cf.lineNumber + 1}` : ""}`.trim();
    perFn.set(name, (perFn.get(name) ?? 0) + us);
    perFile.set(file, (perFile.get(file) ?? 0) + us);
  }
  const selfMs = [...perFn]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([fn, us]) => ({ fn, ms: Math.round(us / 100) / 10, pct: Math.round((1000 * us) / totalUs) / 10 }));
  const byFile = [...perFile].sort((a, b) => b[1] - a[1]).map(([file, us]) => ({ file, pct: Math.round((1000 * us) / totalUs) / 10 }));

  // Inclusive: walk the tree, crediting each sample's self time to every distinct function on its stack.
  const label = (n: ProfileNode) =>
    `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url ? `${n.callFrame.url.split("/").at(-1)}:${n.callFrame.lineNumber + 1}` : ""}`.trim();
  const root = profile.nodes[0];
  const inclusive = new Map<string, number>();
  const stack: string[] = [];
  const walk = (n: ProfileNode) => {
    const name = label(n);
    stack.push(name);
    const us = self.get(n.id) ?? 0;
    if (us) for (const fn of new Set(stack)) inclusive.set(fn, (inclusive.get(fn) ?? 0) + us);
    for (const c of n.children ?? []) {
      const child = byId.get(c);
      if (child) walk(child);
    }
    stack.pop();
  };
  if (root) walk(root);
  const incl = [...inclusive]
    .filter(([fn]) => fn !== "(root)")
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([fn, us]) => ({ fn, pct: Math.round((1000 * us) / totalUs) / 10 }));
  return { selfMs, inclusive: incl, byFile, totalMs: Math.round(totalUs / 1000) };
}
