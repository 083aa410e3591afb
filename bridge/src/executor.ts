import { Command, ReplyError, type Redis } from "ioredis";
import { isBlocking, refusalReason, type CommandArgs } from "./command-policy";
import type { RedisPool } from "./pool";

/** A RESP2 reply as read off the socket: bulk/status strings stay raw bytes, nested errors stay Errors. */
export type RedisReply = Buffer | number | null | Error | RedisReply[];

/** Per-command outcome, in the shape Upstash puts into pipeline and transaction responses. */
export type Outcome = { result: RedisReply } | { error: string };

export type TransactionOutcome = { results: Outcome[] } | { aborted: string };

/** Redis could not be reached or the connection broke mid-command: not a redis reply, so HTTP 500. */
export class RedisUnavailableError extends Error {
  override name = "RedisUnavailableError";
  constructor(cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    // ioredis's wording for "refused because not connected" names an option, not the problem.
    super(`Redis is unavailable: ${detail.includes("enableOfflineQueue") ? "not connected to redis (reconnecting in the background)" : detail}`, { cause });
  }
}

// ioredis reshapes some replies by command name (HGETALL into an object, for one); the REST
// protocol wants exactly what redis sent.
class RawCommand extends Command {
  override transformReply(result: Buffer | Buffer[]): Buffer | Buffer[] {
    return result;
  }
}

// Commands from all the HTTP requests handled in one event-loop turn leave in one write per
// connection instead of one syscall each: uncorking in setImmediate (after the poll phase)
// rather than nextTick is what lets the batch span several requests.
const corked = new WeakSet<Redis>();

function corkUntilNextTurn(connection: Redis): void {
  const stream = connection.stream;
  if (corked.has(connection) || stream === undefined || stream === null) return;
  corked.add(connection);
  stream.cork();
  setImmediate(() => {
    corked.delete(connection);
    stream.uncork();
  });
}

function send(connection: Redis, command: CommandArgs): Promise<RedisReply> {
  const raw = new RawCommand(command[0], command.slice(1), { replyEncoding: null });
  corkUntilNextTurn(connection);
  void connection.sendCommand(raw);
  return raw.promise as Promise<RedisReply>;
}

const isReplyError = (e: unknown): e is Error => e instanceof ReplyError;

/** A redis error reply becomes an outcome; anything else means the connection failed. */
function failureToOutcome(reason: unknown): Outcome {
  if (isReplyError(reason)) return { error: reason.message };
  throw new RedisUnavailableError(reason);
}

const settledToOutcome = (settled: PromiseSettledResult<RedisReply>): Outcome =>
  settled.status === "fulfilled" ? { result: settled.value } : failureToOutcome(settled.reason);

export class RedisExecutor {
  constructor(private readonly pool: RedisPool) {}

  async command(command: CommandArgs, signal?: AbortSignal): Promise<Outcome> {
    const refusal = refusalReason(command);
    if (refusal !== undefined) return { error: refusal };
    try {
      const result = isBlocking(command)
        ? await this.pool.withDedicated((connection) => send(connection, command), signal)
        : await send(this.pool.next(), command);
      return { result };
    } catch (reason) {
      return failureToOutcome(reason);
    }
  }

  /** In order, not atomic (like Upstash): each entry succeeds or fails on its own. */
  async pipeline(commands: CommandArgs[], signal?: AbortSignal): Promise<Outcome[]> {
    const runAll = (connection: Redis) =>
      Promise.allSettled(
        commands.map((command) => {
          const refusal = refusalReason(command);
          return refusal === undefined ? send(connection, command) : Promise.reject(new ReplyError(refusal));
        }),
      );
    // One blocking entry would stall every request sharing a pooled connection behind it.
    const settled = commands.some(isBlocking) ? await this.pool.withDedicated(runAll, signal) : await runAll(this.pool.next());
    return settled.map(settledToOutcome);
  }

  /**
   * MULTI, the commands and EXEC are written back to back on one connection in a single
   * synchronous run, so no other request's command can land inside the transaction even
   * though the connection is shared.
   */
  async transaction(commands: CommandArgs[]): Promise<TransactionOutcome> {
    for (const command of commands) {
      const refusal = refusalReason(command);
      if (refusal !== undefined) return { aborted: refusal };
    }
    const connection = this.pool.next();
    const multi = send(connection, ["MULTI"]);
    const queued = commands.map((command) => send(connection, command));
    const exec = send(connection, ["EXEC"]);
    const [multiSettled, execSettled, ...queuedSettled] = await Promise.allSettled([multi, exec, ...queued]);

    for (const settled of [multiSettled!, execSettled!, ...queuedSettled]) {
      if (settled.status === "rejected" && !isReplyError(settled.reason)) throw new RedisUnavailableError(settled.reason);
    }
    if (multiSettled!.status === "rejected") return { aborted: (multiSettled.reason as Error).message };
    if (execSettled!.status === "rejected") {
      // EXECABORT alone does not say which command was rejected while queueing; the client needs that.
      const failedAt = queuedSettled.findIndex((s) => s.status === "rejected");
      const queueError = queuedSettled[failedAt];
      const detail = queueError?.status === "rejected" ? ` (command ${failedAt} [${commands[failedAt]![0]}]: ${(queueError.reason as Error).message})` : "";
      return { aborted: `${(execSettled.reason as Error).message}${detail}` };
    }
    const replies = execSettled!.value;
    if (!Array.isArray(replies)) return { aborted: "EXECABORT Transaction aborted: EXEC returned no results" };
    return { results: replies.map((reply) => (reply instanceof Error ? { error: reply.message } : { result: reply })) };
  }
}
