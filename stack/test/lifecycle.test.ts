import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, inject, it } from "vitest";
import { groupAlive, processesInGroup, type DaemonRecord } from "../src/daemon";
import { repoRoot } from "../src/home";
import { redisAnswers } from "../src/redis";

const run = promisify(execFile);

/**
 * A second, independent stack (own FLUXGATE_HOME, own ports) driven through the same CLI a user
 * types, so this test can take it down without disturbing the stack the other tests use.
 */
const home = mkdtempSync(join(tmpdir(), "fluxgate-lifecycle-"));
const env = {
  ...process.env,
  FLUXGATE_HOME: home,
  // Nothing answers there, so `up` starts a redis of its own (and `down` must stop it).
  REDIS_URL: "redis://127.0.0.1:1",
  STACK_REDIS_PORT: "16390",
  DATABASE_URL: inject("stack").postgres.url,
  KAFKA_PORT: "19192",
  KAFKA_CONTROLLER_PORT: "19193",
  BRIDGE_PORT: "18079",
  ORIGIN_PORT: "13000",
  WORKER_PORT: "13001",
  EDGE_PORT: "18787",
  EDGE_INSPECTOR_PORT: "19339",
  ISSUER_PORT: "18091",
};
const cli = (command: string) =>
  run(process.execPath, ["--import", "tsx", join(repoRoot, "stack/src/cli.ts"), command], { cwd: repoRoot, env, timeout: 300_000 });

const daemons = (): DaemonRecord[] =>
  readdirSync(join(home, "run"))
    .filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(readFileSync(join(home, "run", f), "utf8")) as DaemonRecord);

/** Live processes whose command line mentions this stack's home (kafka's config, wrangler's state). */
const processesUsingHome = () =>
  readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(home) && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
      } catch {
        return false;
      }
    });

describe("npm run up / status / down", { timeout: 300_000 }, () => {
  afterAll(async () => {
    await cli("down").catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  });

  let first: DaemonRecord[] = [];

  it("up starts every part and prints where each listens", async () => {
    const { stdout } = await cli("up");
    for (const address of ["127.0.0.1:19192", "http://127.0.0.1:18079", "http://127.0.0.1:13000", "http://127.0.0.1:13001", "http://127.0.0.1:18787"]) {
      expect(stdout).toContain(address);
    }
    first = daemons();
    expect(processesUsingHome().length).toBeGreaterThan(0);
    expect(first.map((d) => d.name).sort()).toEqual(["bridge", "edge", "issuer", "kafka", "origin", "redis", "worker"]);
    const edge = await fetch("http://127.0.0.1:18787/health");
    expect(edge.status).toBe(200);
  });

  it("up a second time is harmless: nothing restarted, everything still answers", async () => {
    const { stdout } = await cli("up");
    expect(stdout).not.toContain("(started)");
    expect(
      daemons()
        .map((d) => [d.name, d.pid])
        .sort(),
    ).toEqual(first.map((d) => [d.name, d.pid]).sort());
    const origin = await fetch("http://127.0.0.1:13000/health");
    expect(origin.status).toBe(200);
  });

  it("status lists the running parts", async () => {
    const { stdout } = await cli("status");
    for (const name of ["redis", "kafka", "bridge", "issuer", "origin", "worker", "edge"])
      expect(stdout).toMatch(new RegExp(`^${name}\\s+running\\s+ours`, "m"));
  });

  it("status calls a part that runs but does not answer unhealthy, and up restarts it", async () => {
    // A wedged runtime under a live parent: the edge's workerd stopped, its Node process alive.
    const edge = daemons().find((d) => d.name === "edge")!;
    const workerd = processesInGroup(edge.pid).find((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("workerd"));
    expect(workerd, "the edge's workerd").toBeDefined();
    process.kill(workerd!, "SIGSTOP");
    const status = await cli("status").catch((e: { stdout: string }) => e);
    expect(status.stdout).toMatch(/^edge\s+unhealthy\s+ours/m);
    const { stdout } = await cli("up");
    expect(stdout).toMatch(/^edge\s+\S+ \(restarted: its health check failed\)/m);
    expect(stdout).not.toContain("(started)");
    const now = daemons();
    expect(now.find((d) => d.name === "edge")!.pid).not.toBe(edge.pid);
    expect(groupAlive(edge.pid)).toBe(false);
    expect((await fetch("http://127.0.0.1:18787/health")).status).toBe(200);
    // Only the edge was restarted.
    const others = (records: DaemonRecord[]) =>
      records
        .filter((d) => d.name !== "edge")
        .map((d) => [d.name, d.pid])
        .sort();
    expect(others(now)).toEqual(others(first));
    first = now;
  });

  it("down leaves no process of ours and keeps the PostgreSQL it did not start", async () => {
    await cli("down");
    expect(first.length).toBe(7);
    for (const daemon of first) expect(groupAlive(daemon.pid), `${daemon.name} (pgid ${daemon.pid})`).toBe(false);
    expect(daemons()).toEqual([]);
    expect(processesUsingHome()).toEqual([]);
    expect(await redisAnswers("redis://127.0.0.1:16390")).toBe(false);
    const pg = new (await import("pg")).default.Client({ connectionString: env.DATABASE_URL });
    await pg.connect();
    expect((await pg.query("select 1 as one")).rows[0]).toEqual({ one: 1 });
    await pg.end();
    const { stdout } = await cli("status").catch((e: { stdout: string }) => e);
    expect(stdout).not.toMatch(/running\s+ours/);
  });
});
