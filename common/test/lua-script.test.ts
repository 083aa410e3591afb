import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { LuaScript, type ScriptEvaluator } from "../src/lua-script";

/** A Redis that knows the scripts in `loaded` (by SHA-1) and records what it was sent. */
function fakeRedis(loaded: Set<string>, failWith?: Error) {
  const sent: string[][] = [];
  const redis: ScriptEvaluator = {
    async evalsha(sha, keys, args) {
      sent.push(["EVALSHA", sha, ...keys, ...args]);
      if (failWith) throw failWith;
      if (!loaded.has(sha)) throw new Error("NOSCRIPT No matching script. Please use EVAL.");
      return "from-cache";
    },
    async eval(script, keys, args) {
      sent.push(["EVAL", script, ...keys, ...args]);
      loaded.add(createHash("sha1").update(script).digest("hex"));
      return "from-text";
    },
  };
  return { redis, sent };
}

const script = new LuaScript("echo", "return {KEYS[1], ARGV[1]} -- é");

describe("a Lua script", () => {
  it("carries the SHA-1 Redis gives its text, multi-byte characters included", () => {
    expect(script.sha).toBe(createHash("sha1").update(script.lua, "utf8").digest("hex"));
  });

  it("costs one EVALSHA when Redis has it, its arguments sent as strings", async () => {
    const { redis, sent } = fakeRedis(new Set([script.sha]));
    expect(await script.run(redis, ["k"], [1, "a"])).toBe("from-cache");
    expect(sent).toEqual([["EVALSHA", script.sha, "k", "1", "a"]]);
  });

  it("sends its text once after Redis lost it, then EVALSHA again", async () => {
    const { redis, sent } = fakeRedis(new Set());
    expect(await script.run(redis, ["k"], [7])).toBe("from-text");
    expect(await script.run(redis, ["k"], [8])).toBe("from-cache");
    expect(sent.map((c) => c[0])).toEqual(["EVALSHA", "EVAL", "EVALSHA"]);
    expect(sent[1]).toEqual(["EVAL", script.lua, "k", "7"]);
  });

  it("recognises NOSCRIPT inside a prefixed message (Upstash's REST API)", async () => {
    const { redis, sent } = fakeRedis(new Set(), new Error("ERR NOSCRIPT No matching script"));
    await script.run(redis, [], []);
    expect(sent.map((c) => c[0])).toEqual(["EVALSHA", "EVAL"]);
  });

  it("passes any other failure on without sending the text", async () => {
    const { redis, sent } = fakeRedis(new Set(), new Error("ERR wrong number of arguments"));
    await expect(script.run(redis, [], [])).rejects.toThrow("wrong number of arguments");
    expect(sent.map((c) => c[0])).toEqual(["EVALSHA"]);
  });
});
