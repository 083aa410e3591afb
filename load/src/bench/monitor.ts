import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, createReadStream, openSync, rmSync, statSync } from "node:fs";
import { createInterface } from "node:readline";

/**
 * Attribution of top-level Redis commands to the bench's own sales, for when the shared redis is
 * polluted by other clients (INFO commandstats is server-wide and cannot tell whose a command
 * is). `redis-cli monitor` streams every command to a file during the window; afterwards the
 * top-level ones (not "[0 lua]") that name a key of one of `productIds` are counted. redis-cli
 * is C and only writes a file meanwhile, so it costs the measured system little (see its CPU in
 * the bench's breakdown); parsing happens after the window.
 */

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
      await new Promise((r) => setTimeout(r, 10));
    }
    return new MonitorCapture(child, path);
  }

  /** Idempotent. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    await this.exited;
  }

  /**
   * Top-level commands naming a key of one of these products (keys look like fg:{productId}:sale),
   * by command (lower case); with `mentioning`, only those whose arguments also contain that text.
   */
  async count(productIds: string[], mentioning?: string): Promise<{ byCommand: Record<string, number>; total: number; lines: number }> {
    const needles = productIds.map((p) => `"fg:{${p}}:`);
    const byCommand: Record<string, number> = {};
    let total = 0;
    let lines = 0;
    const rl = createInterface({ input: createReadStream(this.path), crlfDelay: Infinity });
    for await (const line of rl) {
      lines++;
      // 1795656664.023489 [0 127.0.0.1:55900] "evalsha" "sha" "7" "fg:{p}:sale" …   (script-internal: [0 lua])
      const m = /^\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line);
      if (!m || m[1] === "lua") continue;
      if (!needles.some((n) => line.includes(n))) continue;
      if (mentioning !== undefined && !line.includes(mentioning)) continue;
      const name = m[2]!.toLowerCase();
      byCommand[name] = (byCommand[name] ?? 0) + 1;
      total++;
    }
    return { byCommand, total, lines };
  }

  /** Deletes the captured file (tens of MB per window). */
  discard(): void {
    rmSync(this.path, { force: true });
  }
}
