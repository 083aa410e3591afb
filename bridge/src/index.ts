import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import type { Hono } from "hono";
import { pino, type Logger } from "pino";
import { RedisExecutor } from "./executor";
import { RedisPool } from "./pool";
import { createRoutes } from "./routes";

export { loadConfig, type BridgeConfig } from "./config";

export interface BridgeOptions {
  /** redis://… of the real redis-server behind the bridge. */
  redisUrl: string;
  /** The bearer token clients must present (UPSTASH_REDIS_REST_TOKEN). */
  token: string;
  /** Shared redis connections, used round robin. Default 8. */
  poolSize?: number;
  /** Defaults to a silent logger: an embedded bridge (tests, the stack CLI) should not print. */
  logger?: Logger;
}

export interface Bridge {
  app: Hono;
  /** Web-standard handler, usable without a socket: `bridge.fetch(new Request(...))`. */
  fetch: (request: Request) => Response | Promise<Response>;
  /** Resolves once every pooled connection has connected or failed its first attempt. */
  settled: (timeoutMs?: number) => Promise<void>;
  /** Closes the redis connections. Safe to call more than once. */
  close: () => Promise<void>;
}

export interface StartBridgeOptions extends BridgeOptions {
  /** 0 picks a free port; read the actual one from the result. Default 0. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
}

export interface RunningBridge {
  /** Base URL for `new Redis({ url, token })`, e.g. http://127.0.0.1:40123. */
  url: string;
  port: number;
  bridge: Bridge;
  /** Stops accepting requests, lets in-flight ones finish, then closes redis. Safe to call more than once. */
  close: () => Promise<void>;
}

function createBridge(options: BridgeOptions): Bridge {
  const logger = options.logger ?? pino({ level: "silent" });
  const pool = new RedisPool(options.redisUrl, options.poolSize ?? 8, logger);
  const app = createRoutes({ token: options.token, executor: new RedisExecutor(pool), logger });
  return {
    app,
    fetch: (request) => app.fetch(request),
    settled: (timeoutMs) => pool.settled(timeoutMs),
    close: () => pool.close(),
  };
}

/** Starts the bridge on a real socket; resolves once it listens and redis was tried once. */
export async function startBridge(options: StartBridgeOptions): Promise<RunningBridge> {
  const host = options.host ?? "127.0.0.1";
  const bridge = createBridge(options);
  let server: ServerType | undefined;
  try {
    const address = await new Promise<AddressInfo>((resolve, reject) => {
      server = serve({ fetch: bridge.app.fetch, port: options.port ?? 0, hostname: host }, resolve);
      server.once("error", reject);
    });
    // Serving before the pool's handshake would turn the first requests into spurious 500s.
    await bridge.settled();
    const url = `http://${urlHost(host)}:${address.port}`;
    options.logger?.info({ url, redisUrl: redactUrl(options.redisUrl) }, "bridge listening");

    let closing: Promise<void> | undefined;
    const close = () => (closing ??= shutdown(server!, bridge));
    return { url, port: address.port, bridge, close };
  } catch (error) {
    server?.close();
    await bridge.close();
    throw error;
  }
}

async function shutdown(server: ServerType, bridge: Bridge): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // close() only drops the keep-alive sockets idle at that moment; busy ones turn idle once
  // they have answered, so keep sweeping, and cut off whatever is still open after a grace period.
  const sweepIdle = () => {
    if ("closeIdleConnections" in server) server.closeIdleConnections();
  };
  sweepIdle();
  const sweeper = setInterval(sweepIdle, 50);
  const grace = setTimeout(() => {
    if ("closeAllConnections" in server) server.closeAllConnections();
  }, 5_000);
  sweeper.unref();
  grace.unref();
  // Closing redis before the server has drained is deliberate: blocking commands are cut off
  // (their requests answer 500 at once instead of holding shutdown), while QUIT on the shared
  // connections queues behind the commands already sent, so those requests still get replies.
  await bridge.close();
  await closed;
  clearInterval(sweeper);
  clearTimeout(grace);
}

function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

/** Keeps a password in REDIS_URL out of the logs. */
function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return value;
  }
}
