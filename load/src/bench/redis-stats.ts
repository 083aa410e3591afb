import { Redis } from "ioredis";

/**
 * Redis command accounting from `INFO commandstats`, read straight from redis-server.
 *
 * commandstats counts every command redis executes, including the ones a Lua script runs with
 * redis.call: one gate EVALSHA shows up as evalsha=1 plus hmget, time, hget, hset, … What the
 * edge sends over the wire (what Upstash bills, what "one command per attempt" means) are the
 * top-level ones, so the deltas are split:
 *
 * - a command no bundled Lua script calls is top-level;
 * - a command a script calls is script-internal, except HMGET, which the edge also sends itself
 *   (the waiting room's status refresh, GET /sales): the gate script opens with exactly one HMGET
 *   per run, so top-level HMGET = Δhmget − Δ(script runs);
 * - INFO is the bench's own measuring and is left out (each snapshot is one INFO; one sent by
 *   someone else shows up as `foreignInfo`).
 *
 * commandstats is server-wide: anything else talking to this redis during a window pollutes it.
 * Top-level commands the edge never sends (GET, SET, PING, XREADGROUP, …) are reported as
 * `foreign`, so pollution is visible instead of silently inflating the edge's count.
 */

export interface CommandCount {
  calls: number;
  failed: number;
}
export type Snapshot = Map<string, CommandCount>;

/**
 * The top-level commands the edge sends on the routes a window exercises: POST /order is the gate
 * alone (EVALSHA, EVAL after a NOSCRIPT); the waiting room's status refresh adds HMGET. /init
 * (SCRIPT LOAD, SADD) and /health (PING) always run outside the measured windows, so in a window
 * anything else is another client of this shared redis.
 */
export const GATE_COMMANDS = ["evalsha", "eval", "evalsha_ro", "eval_ro"];
export const WAITING_ROOM_COMMANDS = [...GATE_COMMANDS, "hmget"];

/**
 * What only the origin sends to this redis: the relay's blocking read and its CLIENT ID/UNBLOCK.
 * Its batched confirmations, claims and sweeps are EVALSHAs like the edge's gate, which
 * commandstats cannot tell apart: the bill (bench/bill.ts, by connection) is the count that does.
 */
const ORIGIN_COMMANDS = new Set(["xreadgroup", "client|id", "client|unblock"]);

export class CommandStats {
  private readonly redis: Redis;
  private infoCalls = 0;

  constructor(
    url: string,
    private readonly lua: { commands: Set<string>; gateOpensWithHmget: boolean },
  ) {
    this.redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1, connectionName: "fluxgate-bench-stats" });
  }

  async snapshot(): Promise<Snapshot> {
    const text = await this.redis.info("commandstats");
    this.infoCalls++;
    const stats: Snapshot = new Map();
    for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)[^\r\n]*?failed_calls=(\d+)/gm)) {
      stats.set(match[1]!, { calls: Number(match[2]), failed: Number(match[3]) });
    }
    return stats;
  }

  /** How many INFO calls this instance made so far (to subtract from a window's INFO delta). */
  get ownInfoCalls(): number {
    return this.infoCalls;
  }

  /** redis-server's pid (for the CPU breakdown) when redis runs on this machine. */
  async serverPid(): Promise<number | undefined> {
    const text = await this.redis.info("server");
    const pid = /^process_id:(\d+)/m.exec(text)?.[1];
    return pid ? Number(pid) : undefined;
  }

  raw(): Redis {
    return this.redis;
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Measures around `work`: snapshot, work, snapshot; `edgeCommands` are the top-level commands the edge may send meanwhile. */
  async around<T>(edgeCommands: readonly string[], work: () => Promise<T>): Promise<{ result: T; usage: CommandUsage }> {
    const infoBefore = this.infoCalls;
    const before = await this.snapshot();
    const result = await work();
    const after = await this.snapshot();
    // The "before" INFO is counted in "after"; the "after" INFO counts itself only once it ran.
    return { result, usage: this.usage(before, after, this.infoCalls - infoBefore - 1, new Set(edgeCommands)) };
  }

  usage(before: Snapshot, after: Snapshot, ownInfo: number, edgeCommands: Set<string>): CommandUsage {
    const delta = new Map<string, CommandCount>();
    for (const [name, a] of after) {
      const b = before.get(name) ?? { calls: 0, failed: 0 };
      const d = { calls: a.calls - b.calls, failed: a.failed - b.failed };
      if (d.calls !== 0 || d.failed !== 0) delta.set(name, d);
    }
    const calls = (name: string) => delta.get(name)?.calls ?? 0;
    const ran = (name: string) => calls(name) - (delta.get(name)?.failed ?? 0);
    const scriptRuns = ran("evalsha") + ran("eval") + ran("evalsha_ro") + ran("eval_ro");

    const topLevel: Record<string, number> = {};
    const scriptInternal: Record<string, number> = {};
    const origin: Record<string, number> = {};
    const foreign: Record<string, number> = {};
    let all = 0;
    for (const [name, d] of delta) {
      if (name === "info") continue;
      all += d.calls;
      let outside = d.calls;
      if (name === "hmget" && this.lua.commands.has("hmget")) {
        const inner = this.lua.gateOpensWithHmget ? Math.min(d.calls, scriptRuns) : 0;
        if (inner > 0) scriptInternal.hmget = inner;
        outside = d.calls - inner;
      } else if (this.lua.commands.has(name.split("|")[0]!)) {
        scriptInternal[name] = d.calls;
        outside = 0;
      }
      if (outside <= 0) continue;
      if (edgeCommands.has(name)) topLevel[name] = outside;
      else if (ORIGIN_COMMANDS.has(name)) origin[name] = outside;
      else foreign[name] = outside;
    }
    const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
    return {
      edge: sum(topLevel),
      topLevel,
      scriptInternal,
      origin,
      originTotal: sum(origin),
      allExecuted: all,
      foreign,
      foreignTotal: sum(foreign),
      foreignInfo: Math.max(0, calls("info") - ownInfo),
      scriptRuns,
      hmgetSplitReliable: this.lua.gateOpensWithHmget,
    };
  }
}

export interface CommandUsage {
  /** Top-level commands the edge sends (EVALSHA, EVAL, HMGET, …): the headline count. */
  edge: number;
  topLevel: Record<string, number>;
  /** Commands run inside the Lua scripts (counted by commandstats, not sent over the wire). */
  scriptInternal: Record<string, number>;
  /** The origin's commands (forward confirmations, relay polling): the system's, not the edge's. */
  origin: Record<string, number>;
  originTotal: number;
  /** Everything redis executed in the window (top-level + script-internal + origin + foreign), INFO excluded. */
  allExecuted: number;
  /** Top-level commands the edge never sends: someone else used this redis during the window. */
  foreign: Record<string, number>;
  foreignTotal: number;
  foreignInfo: number;
  scriptRuns: number;
  hmgetSplitReliable: boolean;
}

export const isPolluted = (u: CommandUsage) => u.foreignTotal > 0 || u.foreignInfo > 0;
