import { setTimeout as sleep } from "node:timers/promises";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, createReadStream, openSync, rmSync, statSync } from "node:fs";
import { createInterface } from "node:readline";

/**
 * Every top-level command redis ran in a window, with the client that sent it (INFO
 * commandstats is server-wide and cannot tell whose a command is, nor a sent command from one a
 * script ran). `redis-cli monitor` streams every command to a file during the window; afterwards
 * the top-level ones (not "[0 lua]") are counted per client (bench/bill.ts names the clients).
 * redis-cli is C and only writes a file meanwhile, so it costs the measured system little (see
 * its CPU in the bench's breakdown); parsing happens after the window.
 */

/** One top-level command as MONITOR printed it: the client's address, the command (lower case), its first arguments and the whole line. */
export interface MonitorLine {
  addr: string;
  command: string;
  arg1: string | undefined;
  arg2: string | undefined;
  line: string;
}

export const monitorAvailable = (): boolean => spawnSync("redis-cli", ["--version"], { stdio: "ignore" }).status === 0;

export class MonitorCapture {
  private readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly path: string,
  ) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once("exit", () => resolve());
    });
  }

  static async start(redisUrl: string, path: string): Promise<MonitorCapture> {
    const fd = openSync(path, "w");
    const child = spawn("redis-cli", ["-u", redisUrl, "monitor"], { stdio: ["ignore", fd, "ignore"] });
    closeSync(fd);
    // MONITOR answers "OK" once it is on; wait for it so nothing of the window is missed.
    const deadline = Date.now() + 3_000;
    while (statSync(path).size === 0) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error("redis-cli monitor did not start");
      await sleep(10);
    }
    return new MonitorCapture(child, path);
  }

  /** Idempotent. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    await this.exited;
  }

  /**
   * Top-level commands per client address (lower-case command → count; only those naming a key of
   * one of `productIds` when given), and the names clients gave themselves in the window
   * (CLIENT SETNAME, which ioredis sends on connect).
   */
  async countByClient(productIds?: string[]): Promise<{ commands: Map<string, Record<string, number>>; namedInStream: Map<string, string> }> {
    const needles = productIds?.map((p) => `"fg:{${p}}:`);
    const commands = new Map<string, Record<string, number>>();
    const namedInStream = new Map<string, string>();
    for await (const { addr, command, arg1, arg2, line } of this.lines()) {
      if (command === "client" && arg1?.toLowerCase() === "setname" && arg2 !== undefined) namedInStream.set(addr, arg2);
      if (needles && !needles.some((n) => line.includes(n))) continue;
      const counts = commands.get(addr) ?? {};
      counts[command] = (counts[command] ?? 0) + 1;
      commands.set(addr, counts);
    }
    return { commands, namedInStream };
  }

  /**
   * Top-level commands naming a key of one of these products (keys look like fg:{productId}:sale),
   * by command (lower case); with `mentioning`, only those whose arguments also contain that text.
   */
  async count(productIds: string[], mentioning?: string): Promise<{ byCommand: Record<string, number>; total: number }> {
    const needles = productIds.map((p) => `"fg:{${p}}:`);
    const byCommand: Record<string, number> = {};
    let total = 0;
    for await (const { command, line } of this.lines()) {
      if (!needles.some((n) => line.includes(n))) continue;
      if (mentioning !== undefined && !line.includes(mentioning)) continue;
      byCommand[command] = (byCommand[command] ?? 0) + 1;
      total++;
    }
    return { byCommand, total };
  }

  /**
   * Top-level commands by whom `classify` says sent them (undefined: nobody counted), for traffic
   * told apart by what its commands name rather than by connection (the demo's attackers beside
   * its crowd, all through the same edge).
   */
  async tally(classify: (c: MonitorLine) => string | undefined): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for await (const c of this.lines()) {
      const who = classify(c);
      if (who !== undefined) counts[who] = (counts[who] ?? 0) + 1;
    }
    return counts;
  }

  /** The captured top-level commands (script-internal ones, "[0 lua]", left out). */
  private async *lines(): AsyncGenerator<MonitorLine> {
    const rl = createInterface({ input: createReadStream(this.path), crlfDelay: Infinity });
    for await (const line of rl) {
      // 1795656664.023489 [0 127.0.0.1:55900] "evalsha" "sha" "7" "fg:{p}:sale" …
      const m = /^\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]+)"(?: "([^"]*)")?(?: "([^"]*)")?/.exec(line);
      if (!m || m[1] === "lua") continue;
      yield { addr: m[1]!, command: m[2]!.toLowerCase(), arg1: m[3], arg2: m[4], line };
    }
  }

  /** Deletes the captured file (tens of MB per window). */
  discard(): void {
    rmSync(this.path, { force: true });
  }
}
