import type { Redis } from "@upstash/redis/cloudflare";
import { gateLua } from "./gate.lua";
import { initSaleLua } from "./init-sale.lua";

export interface LuaScript {
  name: string;
  lua: string;
  /** SHA-1 of `lua`; scripts.test.ts checks it against SCRIPT LOAD, so an edit cannot ship a stale hash. */
  sha: string;
}

export const scripts = {
  gate: { name: "gate", lua: gateLua, sha: "14481440a2efc63cc9289a012e1669c8d3ae67cb" },
  initSale: { name: "init-sale", lua: initSaleLua, sha: "91fec51e0ae0faf69996820b0e57904837949975" },
} satisfies Record<string, LuaScript>;

type Evaluator = Pick<Redis, "evalsha" | "eval">;

/**
 * EVALSHA, and EVAL only when Redis lost the script (a restart, SCRIPT FLUSH). /init loads the
 * scripts, so on the purchase path this is exactly one command.
 */
export async function runScript<T>(redis: Evaluator, script: LuaScript, keys: string[], args: (string | number)[]): Promise<T> {
  const argv = args.map(String);
  try {
    return (await redis.evalsha(script.sha, keys, argv)) as T;
  } catch (error) {
    if (!(error instanceof Error && error.message.includes("NOSCRIPT"))) throw error;
    return (await redis.eval(script.lua, keys, argv)) as T;
  }
}
