import type { Redis } from "@upstash/redis/cloudflare";
import { gateLua } from "./gate.lua";
import { initSaleLua } from "./init-sale.lua";
import { closeSaleLua } from "./close-sale.lua";

export interface LuaScript {
  name: string;
  lua: string;
  /** SHA-1 of `lua`; scripts.test.ts checks it against SCRIPT LOAD, so an edit cannot ship a stale hash. */
  sha: string;
}

export const scripts = {
  gate: { name: "gate", lua: gateLua, sha: "03cc89208bc4a42186051db27dd5046e0eea2963" },
  initSale: { name: "init-sale", lua: initSaleLua, sha: "a36abd9d68a58d385e1d7841b04f963e8a8542a8" },
  closeSale: { name: "close-sale", lua: closeSaleLua, sha: "d6bbd5a85d11ed32d283b9e964f31d2b047d9d72" },
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
