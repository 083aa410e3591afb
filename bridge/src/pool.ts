import { RedisClients } from "@fluxgate/common";
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";

// Fail fast instead of queueing: a request made while redis is away must get a 500 right now,
// not hang until a reconnect that may never come. Reconnecting keeps going in the background.
const POOLED_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  // Replaying a command whose reply was lost could apply a write twice (INCR, LPUSH, ...).
  autoResendUnfulfilledCommands: false,
  retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
  connectTimeout: 2_000,
  lazyConnect: false,
};

// A dedicated connection lives for one request, so it may wait for its own handshake,
// but it must give up (rather than retry) if redis cannot be reached.
const DEDICATED_OPTIONS: RedisOptions = {
  enableOfflineQueue: true,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  retryStrategy: () => null,
  connectTimeout: 2_000,
  lazyConnect: false,
};

/**
 * Round-robin pool of long-lived connections that many requests share (ioredis pipelines them),
 * plus short-lived dedicated connections for commands that would stall a shared one.
 */
export class RedisPool {
  private readonly connections: Redis[];
  private readonly dedicated = new Set<Redis>();
  private readonly firstAttempts: Promise<void>[];
  private cursor = 0;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly redisUrl: string,
    size: number,
    private readonly logger: Logger,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`pool size must be a positive integer, got ${size}`);
    this.connections = [];
    this.firstAttempts = [];
    for (let i = 0; i < size; i++) {
      const connection = new Redis(redisUrl, { ...POOLED_OPTIONS, connectionName: `${RedisClients.edge}-${i}` });
      this.watchHealth(connection, i);
      this.firstAttempts.push(firstAttempt(connection));
      this.connections.push(connection);
    }
  }

  /** Next shared connection, preferring ready ones so one broken socket does not fail every Nth request. */
  next(): Redis {
    const n = this.connections.length;
    for (let i = 0; i < n; i++) {
      const connection = this.connections[this.cursor]!;
      this.cursor = this.cursor + 1 === n ? 0 : this.cursor + 1;
      if (connection.status === "ready") return connection;
    }
    // None ready: hand one out anyway; it rejects immediately, which becomes the 500 the caller wants.
    return this.connections[this.cursor]!;
  }

  /**
   * Resolves once every pooled connection has either become ready or failed its first attempt,
   * so callers can start serving without racing the handshake, yet never wait on a dead redis.
   */
  async settled(timeoutMs = 3_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    await Promise.race([Promise.all(this.firstAttempts), timeout]);
    clearTimeout(timer);
  }

  /** Runs `work` on a connection nobody else uses, then drops it. `signal` aborts it early. */
  async withDedicated<T>(work: (connection: Redis) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.closing) throw new Error("Connection is closed.");
    const connection = new Redis(this.redisUrl, { ...DEDICATED_OPTIONS, connectionName: `${RedisClients.edge}-dedicated` });
    // Without a listener ioredis prints "Unhandled error event"; the command's rejection already reports it.
    connection.on("error", (err: Error) => this.logger.debug({ err }, "dedicated redis connection error"));
    this.dedicated.add(connection);
    // A client that hangs up on BLPOP 0 would otherwise pin this connection forever.
    const abort = () => connection.disconnect();
    signal?.addEventListener("abort", abort, { once: true });
    try {
      return await work(connection);
    } finally {
      signal?.removeEventListener("abort", abort);
      this.dedicated.delete(connection);
      connection.disconnect();
    }
  }

  /** Idempotent: QUITs ready connections (so in-flight replies drain) and drops the rest. */
  close(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private async closeAll(): Promise<void> {
    // Dedicated connections are mostly parked in blocking commands; waiting for them would stall shutdown.
    for (const connection of this.dedicated) connection.disconnect();
    await Promise.all(this.connections.map((connection) => quitOrDisconnect(connection)));
  }

  private watchHealth(connection: Redis, index: number): void {
    // Log transitions only: a down redis emits an error on every reconnect attempt.
    let healthy = true;
    connection.on("ready", () => {
      if (!healthy) this.logger.info({ connection: index }, "redis connection restored");
      healthy = true;
    });
    connection.on("error", (err: Error) => {
      if (healthy) this.logger.warn({ connection: index, err: err.message }, "redis connection error; reconnecting in background");
      healthy = false;
    });
  }
}

function firstAttempt(connection: Redis): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      connection.off("ready", done);
      connection.off("error", done);
      connection.off("end", done);
      resolve();
    };
    connection.once("ready", done);
    connection.once("error", done);
    connection.once("end", done);
  });
}

async function quitOrDisconnect(connection: Redis): Promise<void> {
  if (connection.status !== "ready") {
    connection.disconnect();
    return;
  }
  try {
    await Promise.race([connection.quit(), new Promise((_, reject) => setTimeout(reject, 1_000).unref())]);
  } catch {
    // QUIT did not complete in time or the socket broke; dropping it is all that is left.
  } finally {
    connection.disconnect();
  }
}
