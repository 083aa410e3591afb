import { readFileSync } from "node:fs";

export { buildEdge, startIsolates, type RunningIsolates } from "@fluxgate/stack";

/**
 * What the bundled Lua scripts call (`redis.call('X', …)`, lower-cased), and whether HMGET can be
 * told apart: it can when every script that calls HMGET calls it exactly once, as its first
 * command (the gate reads the sale first), so each script run accounts for one HMGET at most.
 */
export function luaCommandsIn(scriptPath: string): { commands: Set<string>; gateOpensWithHmget: boolean } {
  const bundle = readFileSync(scriptPath, "utf8");
  const call = /redis\.call\(\s*'([A-Za-z]+)'/g;
  const commands = new Set([...bundle.matchAll(call)].map((m) => m[1]!.toLowerCase()));
  // esbuild keeps the scripts as template literals: one backtick-delimited segment per script.
  const scripts = bundle.split("`").filter((segment) => segment.includes("redis.call("));
  const withHmget = scripts.map((s) => [...s.matchAll(call)].map((m) => m[1]!.toUpperCase())).filter((calls) => calls.includes("HMGET"));
  const gateOpensWithHmget = withHmget.length > 0 && withHmget.every((calls) => calls[0] === "HMGET" && calls.filter((c) => c === "HMGET").length === 1);
  return { commands, gateOpensWithHmget };
}
