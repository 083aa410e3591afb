import type { Redis } from "@upstash/redis/cloudflare";
import { gateLua } from "./gate.lua";
import { initSaleLua } from "./init-sale.lua";
import { closeSaleLua } from "./close-sale.lua";
import { drawCommitLua, drawWriteLua } from "./draw.lua";

export interface LuaScript {
  name: string;
  lua: string;
  /** SHA-1 of `lua`; scripts.test.ts checks it against SCRIPT LOAD, so an edit cannot ship a stale hash. */
  sha: string;
}

export const scripts = {
  gate: { name: "gate", lua: gateLua, sha: "bed9bfe999c27abd6f3d2e8ed87d8bc5037d6a53" },
  initSale: { name: "init-sale", lua: initSaleLua, sha: "b549b2bec5238133b0bc8d16766633ed0d2ab9fb" },
  closeSale: { name: "close-sale", lua: closeSaleLua, sha: "d6bbd5a85d11ed32d283b9e964f31d2b047d9d72" },
  drawWrite: { name: "draw-write", lua: drawWriteLua, sha: "fd0d1410873ee6bd4fd7435021f46978dcf3ea10" },
  drawCommit: { name: "draw-commit", lua: drawCommitLua, sha: "9425d775a8a1357394245db921c3d39034c744d3" },
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
