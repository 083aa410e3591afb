/** A redis command as sent over the wire: name first, every argument already a string. */
export type CommandArgs = [name: string, ...args: string[]];

// Commands that change the state of the connection they run on. On a pooled connection that
// state would leak into every other request sharing it (or, for SUBSCRIBE/MONITOR/HELLO 3,
// break the reply stream outright), so they are refused. MULTI/EXEC go through /multi-exec.
const CONNECTION_STATE_COMMANDS = new Set([
  "auth",
  "discard",
  "exec",
  "hello",
  "monitor",
  "multi",
  "psubscribe",
  "psync",
  "punsubscribe",
  "quit",
  "replconf",
  "reset",
  "select",
  "ssubscribe",
  "subscribe",
  "sunsubscribe",
  "sync",
  "unsubscribe",
  "unwatch",
  "watch",
]);

// Commands Upstash refuses as well: they administer the server (its config, users, persistence,
// replication, modules) or wipe every key at once. Anyone holding the REST token (every edge
// isolate) could otherwise reconfigure or empty the database; Upstash does not allow it either, so
// nothing that works against the bridge can break against Upstash. CLIENT is here as a whole
// (KILL, PAUSE, LIST of other connections...), so no subcommand needs checking.
const ADMIN_COMMANDS = new Set([
  "acl",
  "bgrewriteaof",
  "bgsave",
  "client",
  "cluster",
  "config",
  "debug",
  "failover",
  "flushall",
  "flushdb",
  "lastsave",
  "latency",
  "migrate",
  "module",
  "replicaof",
  "save",
  "shutdown",
  "slaveof",
  "slowlog",
  "swapdb",
]);

// Commands that can park the connection until a timeout; on a shared, pipelined connection they
// would stall every request queued behind them, so they get a connection of their own.
const ALWAYS_BLOCKING = new Set(["blmove", "blmpop", "blpop", "brpop", "brpoplpush", "bzmpop", "bzpopmax", "bzpopmin", "wait", "waitaof"]);

// These block only with a BLOCK option.
const BLOCKING_WITH_OPTION = new Set(["xread", "xreadgroup"]);

/** Why the bridge will not run a command at all, or undefined if it may. */
export function refusalReason(command: CommandArgs): string | undefined {
  const name = command[0].toLowerCase();
  if (CONNECTION_STATE_COMMANDS.has(name)) {
    return name === "multi" || name === "exec" || name === "discard" || name === "watch" || name === "unwatch"
      ? `ERR '${command[0]}' is not supported by the bridge over REST; send the transaction to POST /multi-exec`
      : `ERR '${command[0]}' is not supported by the bridge: it changes the state of a shared connection`;
  }
  // Upstash's wording, so a client sees the same error from either.
  if (ADMIN_COMMANDS.has(name)) return `ERR Command is not allowed: ${command[0]}`;
  return undefined;
}

export function isBlocking(command: CommandArgs): boolean {
  const name = command[0].toLowerCase();
  if (ALWAYS_BLOCKING.has(name)) return true;
  if (BLOCKING_WITH_OPTION.has(name)) {
    // A stream key literally named "block" also matches; it then merely runs on its own connection.
    for (let i = 1; i < command.length; i++) if (command[i]!.toLowerCase() === "block") return true;
  }
  return false;
}
