import { join } from "node:path";
import type { StackConfig } from "./config";
import { GiveUp, logFile, runningDaemon, sleep, startDaemon, stopDaemon, tailOfFile, waitFor } from "./daemon";
import { repoRoot } from "./home";
import { DEV_AUDIENCE, identityBindings, issuerUrl, JWKS_PATH } from "./issuer/app";

/** Our own processes, in start order: each needs the ones before it. */
export const serviceNames = ["bridge", "issuer", "origin", "worker", "edge"] as const;
export type ServiceName = (typeof serviceNames)[number];

export interface ServiceEnv {
  redisUrl: string;
  databaseUrl: string;
  kafkaBrokers: string;
  secrets: Map<string, string>;
}

export const serviceUrl = (config: StackConfig, name: ServiceName) => `http://127.0.0.1:${config.ports[name === "edge" ? "edge" : name]}`;

/** Where each service's Prometheus metrics are (the origin's on a port of their own). */
export const metricsUrl = (config: StackConfig, name: "origin" | "worker") =>
  `http://127.0.0.1:${name === "origin" ? config.ports.originMetrics : config.ports.worker}/metrics`;

/**
 * What an edge needs to reach this stack: the bridge, the origin and the dev issuer it trusts (a
 * deployment points these at Upstash, its origin and the shop's issuer). The stack's edge gets them
 * in its environment; `wrangler dev` through .dev.vars.
 */
export const edgeSettings = (config: StackConfig) => ({
  UPSTASH_REDIS_REST_URL: serviceUrl(config, "bridge"),
  ORIGIN_URL: serviceUrl(config, "origin"),
  ...identityBindings({ url: issuerUrl(config), jwksUrl: `${issuerUrl(config)}${JWKS_PATH}`, audience: DEV_AUDIENCE }),
});

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
      return {
        ...nodeEntry("bridge"),
        env: { ...base, BRIDGE_PORT: String(config.ports.bridge), UPSTASH_REDIS_REST_TOKEN: secret("UPSTASH_REDIS_REST_TOKEN") },
      };
    case "origin":
      return {
        ...nodeEntry("origin"),
        env: {
          ...base,
          ORIGIN_PORT: String(config.ports.origin),
          ORIGIN_METRICS_PORT: String(config.ports.originMetrics),
          ORIGIN_SIGNING_SECRET: secret("ORIGIN_SIGNING_SECRET"),
        },
      };
    case "issuer":
      return { command: process.execPath, args: ["--import", "tsx", join("stack", "src", "issuer", "main.ts")], env: base };
    case "worker":
      // The operator's one admin token also reads the worker's /health details.
      return {
        ...nodeEntry("worker"),
        env: { ...base, WORKER_PORT: String(config.ports.worker), DATABASE_URL: env.databaseUrl, WORKER_HEALTH_TOKEN: secret("ADMIN_TOKEN") },
      };
    case "edge":
      // Many isolates of the deployable bundle behind a round-robin (stack/src/edge/main.ts), wired
      // to this stack's addresses; the local edge trusts the stack's dev issuer (a deployment points
      // JWT_* at the shop's own).
      return {
        command: process.execPath,
        args: ["--import", "tsx", join(repoRoot, "stack", "src", "edge", "main.ts")],
        env: {
          ...process.env,
          EDGE_PORT: String(config.ports.edge),
          ...edgeSettings(config),
          WRANGLER_SEND_METRICS: "false",
        },
      };
  }
}

/** Ready means the service's /health answers 200 (for the bridge: an authorised PING). */
async function isReady(config: StackConfig, name: ServiceName, env: ServiceEnv, timeoutMs = 10_000): Promise<boolean> {
  const url = serviceUrl(config, name);
  const signal = AbortSignal.timeout(timeoutMs);
  const res =
    name === "bridge"
      ? await fetch(url, { method: "POST", headers: { authorization: `Bearer ${env.secrets.get("UPSTASH_REDIS_REST_TOKEN")}` }, body: '["PING"]', signal })
      : await fetch(`${url}/health`, { signal });
  await res.arrayBuffer();
  return res.ok;
}

/** A few tries a little apart, so one slow answer under load is not taken for a broken service. */
async function answersHealth(config: StackConfig, name: ServiceName, env: ServiceEnv, tries = 3): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await isReady(config, name, env, 3_000).catch(() => false)) return true;
    if (i + 1 < tries) await sleep(500);
  }
  return false;
}

/**
 * Starts the service unless it runs and answers its health check. A process that is alive but
 * does not answer (e.g. a wedged runtime under a live parent) is stopped and started again.
 */
export async function ensureService(config: StackConfig, name: ServiceName, env: ServiceEnv): Promise<{ url: string; started: boolean; restarted: boolean }> {
  const url = serviceUrl(config, name);
  const restarted = runningDaemon(config.home, name) !== undefined && !(await answersHealth(config, name, env));
  if (restarted) await stopService(config, name);
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
  return { url, started, restarted };
}

export const stopService = (config: StackConfig, name: ServiceName) => stopDaemon(config.home, name, 15_000);
