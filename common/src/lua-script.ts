import { sha1 } from "@noble/hashes/legacy.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";

/**
 * The two commands a script needs, in @upstash/redis' shape (the edge passes its client as is; a
 * client with another shape, like ioredis, adapts in a few lines and may keep its replies' bytes).
 */
export interface ScriptEvaluator {
  evalsha(sha: string, keys: string[], args: string[]): Promise<unknown>;
  eval(script: string, keys: string[], args: string[]): Promise<unknown>;
}

/**
 * A Lua script and its SHA-1, computed once from the text it sends, so an edited script cannot go
 * out under a stale hash (tests still check SCRIPT LOAD yields `sha`, in case the two disagreed).
 * SHA-1 comes from @noble/hashes: synchronous, and it runs in workerd as well as in Node.
 */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly lua: string,
  ) {
    this.sha = bytesToHex(sha1(utf8ToBytes(lua)));
  }

  /**
   * EVALSHA, one billed command whatever the script does inside; EVAL only when Redis lost the
   * script (a restart, SCRIPT FLUSH), so the text travels once per loss, not once per call.
   */
  async run<T = unknown>(redis: ScriptEvaluator, keys: string[], args: readonly (string | number)[]): Promise<T> {
    const argv = args.map(String);
    try {
      return (await redis.evalsha(this.sha, keys, argv)) as T;
    } catch (error) {
      // Upstash's REST API prefixes the server's message; a Redis connection starts with it.
      if (!(error instanceof Error && error.message.includes("NOSCRIPT"))) throw error;
      return (await redis.eval(this.lua, keys, argv)) as T;
    }
  }
}
