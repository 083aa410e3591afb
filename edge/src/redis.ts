import { Redis } from "@upstash/redis/cloudflare";
import type { EdgeConfig } from "./config";

// One client per isolate: its auto-pipelining batches concurrent requests' commands into one HTTP call.
let client: { url: string; redis: Redis } | undefined;

export function redisFor(config: EdgeConfig): Redis {
  if (client?.url !== config.UPSTASH_REDIS_REST_URL) {
    client = {
      url: config.UPSTASH_REDIS_REST_URL,
      // Replies stay raw: the gate returns JSON text that must reach the origin byte for byte.
      redis: new Redis({ url: config.UPSTASH_REDIS_REST_URL, token: config.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false, automaticDeserialization: false }),
    };
  }
  return client.redis;
}
