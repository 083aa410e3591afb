import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

export interface LuaScript {
  name: string;
  lua: string;
  sha: string;
}

export const luaScript = (name: string, lua: string): LuaScript => ({ name, lua, sha: createHash("sha1").update(lua).digest("hex") });

export type LuaRedis = Pick<Redis, "callBuffer">;

/**
 * One EVALSHA (one billed command, whatever the script does inside), EVAL only when redis lost
 * the script (a restart, SCRIPT FLUSH). Replies keep their bytes: outbox values are produced as stored.
 */
export async function runLua(redis: LuaRedis, script: LuaScript, keys: string[], args: (string | number)[]): Promise<unknown> {
  try {
    return await redis.callBuffer("EVALSHA", script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith("NOSCRIPT"))) throw error;
    return redis.callBuffer("EVAL", script.lua, keys.length, ...keys, ...args);
  }
}
