import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import type { StackConfig } from "./config";
import { runningDaemon, startDaemon, stopDaemon, waitFor } from "./daemon";
import type { Endpoint } from "./endpoint";

export async function redisAnswers(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

function hasRedisServer(): boolean {
  try {
    execFileSync("redis-server", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Redis at REDIS_URL if it answers; otherwise a redis-server of our own on STACK_REDIS_PORT with its
 * data under .fluxgate/ (append-only, so the outbox survives a restart of it).
 */
export async function ensureRedis(config: StackConfig): Promise<Endpoint> {
  const ownUrl = `redis://127.0.0.1:${config.ownRedisPort}`;
  if (runningDaemon(config.home, "redis")) return { url: ownUrl, ours: true };
  if (await redisAnswers(config.redisUrl)) return { url: config.redisUrl, ours: false };
  if (!hasRedisServer()) {
    throw new Error(
      `redis does not answer at ${config.redisUrl} and redis-server is not installed.\n` +
        "  Install it (apt-get install redis-server), point REDIS_URL at a running redis, or start the origin side with docker-compose.",
    );
  }
  const dir = join(config.home.data, "redis");
  mkdirSync(dir, { recursive: true });
  startDaemon(config.home, {
    name: "redis",
    command: "redis-server",
    args: ["--bind", "127.0.0.1", "--port", String(config.ownRedisPort), "--dir", dir, "--appendonly", "yes", "--save", "", "--daemonize", "no"],
  });
  await waitFor("redis", () => redisAnswers(ownUrl), 15_000);
  return { url: ownUrl, ours: true, started: true };
}

export const stopRedis = (config: StackConfig) => stopDaemon(config.home, "redis");
