import { env } from "cloudflare:workers";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { scripts } from "../src/gate/scripts";

describe("Lua script registry", () => {
  const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false });

  it.each(Object.values(scripts))("$name: SCRIPT LOAD yields the registered SHA-1", async (script) => {
    expect(await redis.scriptLoad(script.lua)).toBe(script.sha);
  });
});
