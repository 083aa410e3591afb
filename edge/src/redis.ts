import { Redis } from "@upstash/redis/cloudflare";
import type { EdgeConfig } from "./config";
import { isOutage, UPSTASH_TIMEOUT_MS, type UpstashHealth, UpstashUnavailable } from "./upstash-health";

/**
 * One client per isolate (Isolate holds this). Auto-pipelining is off: it builds a pipeline per
 * command and, with one command per request, never batches anything across requests (measured:
 * ~11% of the CPU). Every call is cut after UPSTASH_TIMEOUT_MS (the client waits forever by
 * default, and retries five times over ~12 s): a buyer hears "unavailable" in seconds, not a hang.
 * One retry covers a dropped connection; every script the edge runs is safe to run twice (the
 * gate answers a repeated Idempotency-Key with its first outcome).
 */
export class RedisClients {
  private client: { url: string; token: string; redis: Redis } | undefined;

  constructor(private readonly health: UpstashHealth) {}

  for(config: EdgeConfig): Redis {
    const { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token } = config;
    if (this.client?.url !== url || this.client.token !== token) {
      const redis = new Redis({
        url,
        token,
        enableTelemetry: false,
        // Replies stay raw: the gate returns JSON text that must reach the origin byte for byte.
        automaticDeserialization: false,
        // Every reply of ours is ASCII (the key filters keep the top bit of each byte clear), so
        // it crosses as plain JSON: no base64 to undo, string by string, on every call.
        responseEncoding: false,
        enableAutoPipelining: false,
        signal: () => AbortSignal.timeout(UPSTASH_TIMEOUT_MS),
        retry: { retries: 1, backoff: () => 50 },
      });
      const health = this.health;
      redis.use(async (req, next) => {
        const started = Date.now();
        try {
          const reply = await next(req);
          health.record(Date.now() - started);
          return reply;
        } catch (error) {
          if (!isOutage(error)) throw error;
          health.fail(error);
          throw new UpstashUnavailable(error);
        }
      });
      this.client = { url, token, redis };
    }
    return this.client.redis;
  }
}
