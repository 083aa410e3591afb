import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { StackConfig } from "./config";
import { GiveUp, logFile, runningDaemon, startDaemon, stopDaemon, tailOfFile, waitFor } from "./daemon";
import { repoRoot, wranglerCli } from "./home";

/** Our own processes, in start order: each needs the ones before it. */
export const serviceNames = ["bridge", "origin", "worker", "edge"] as const;
export type ServiceName = (typeof serviceNames)[number];

export interface ServiceEnv {
  redisUrl: string;
  databaseUrl: string;
  kafkaBrokers: string;
  secrets: Map<string, string>;
}

export const serviceUrl = (config: StackConfig, name: ServiceName) => `http://127.0.0.1:${config.ports[name === "edge" ? "edge" : name]}`;

const nodeEntry = (workspace: string) => ({
  command: process.execPath,
  // --import tsx runs the TypeScript entry in this one process (no watcher, no extra child).
  args: ["--import", "tsx", join(workspace, "src", "main.ts")],
});

function specFor(config: StackConfig, name: ServiceName, env: ServiceEnv) {
  const secret = (key: string) => env.secrets.get(key) ?? "";
  const base = { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? "info", REDIS_URL: env.redisUrl, KAFKA_BROKERS: env.kafkaBrokers };
  switch (name) {
    case "bridge":
      return { ...nodeEntry("bridge"), env: { ...base, BRIDGE_PORT: String(config.ports.bridge), UPSTASH_REDIS_REST_TOKEN: secret("UPSTASH_REDIS_REST_TOKEN") } };
    case "origin":
      return { ...nodeEntry("origin"), env: { ...base, ORIGIN_PORT: String(config.ports.origin), ORIGIN_SIGNING_SECRET: secret("ORIGIN_SIGNING_SECRET") } };
    case "worker":
      return { ...nodeEntry("worker"), env: { ...base, WORKER_PORT: String(config.ports.worker), DATABASE_URL: env.databaseUrl } };
    case "edge": {
      // The edge reads its secrets from .dev.vars; this stack's own addresses go in a second env
      // file that wins over it, so a stack on other ports (FLUXGATE_HOME, *_PORT) stays self-contained.
      const addresses = join(config.home.run, "edge.env");
      writeFileSync(addresses, `UPSTASH_REDIS_REST_URL=${serviceUrl(config, "bridge")}\nORIGIN_URL=${serviceUrl(config, "origin")}\n`);
      return {
        command: process.execPath,
        args: [
          wranglerCli(),
          "dev", "--config", join(repoRoot, "wrangler.toml"),
          "--ip", "127.0.0.1", "--port", String(config.ports.edge), "--inspector-port", String(config.ports.edgeInspector),
          "--env-file", join(repoRoot, ".dev.vars"), "--env-file", addresses,
          "--persist-to", join(config.home.data, "wrangler"), "--show-interactive-dev-session=false", "--log-level", "warn",
        ],
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
      };
    }
  }
}

/** Ready means the service's /health answers 200 (for the bridge: an authorised PING). */
async function isReady(config: StackConfig, name: ServiceName, env: ServiceEnv): Promise<boolean> {
  const url = serviceUrl(config, name);
  const res =
    name === "bridge"
      ? await fetch(url, { method: "POST", headers: { authorization: `Bearer ${env.secrets.get("UPSTASH_REDIS_REST_TOKEN")}` }, body: '["PING"]' })
      : await fetch(`${url}/health`);
  await res.arrayBuffer();
  return res.ok;
}

export async function ensureService(config: StackConfig, name: ServiceName, env: ServiceEnv): Promise<{ url: string; started: boolean }> {
  const url = serviceUrl(config, name);
  const started = !runningDaemon(config.home, name);
  if (started) startDaemon(config.home, { name, cwd: repoRoot, ...specFor(config, name, env) });
  try {
    const ready = async () => {
      if (!runningDaemon(config.home, name)) throw new GiveUp(`${name} exited during start`);
      return isReady(config, name, env);
    };
    await waitFor(name, ready, name === "edge" ? 90_000 : 60_000);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- last lines of ${logFile(config.home, name)} ---\n${tailOfFile(logFile(config.home, name))}`);
  }
  return { url, started };
}

export const stopService = (config: StackConfig, name: ServiceName) => stopDaemon(config.home, name, 15_000);
