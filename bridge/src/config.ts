import { parseEnv, port } from "@fluxgate/common/node";
import { z } from "zod";

const redisUrl = z.string().refine(
  (value) => {
    try {
      const { protocol } = new URL(value);
      return protocol === "redis:" || protocol === "rediss:";
    } catch {
      return false;
    }
  },
  { message: "REDIS_URL must be a redis:// or rediss:// URL" },
);

const BridgeEnv = z
  .object({
    BRIDGE_PORT: port(8079),
    BRIDGE_HOST: z.string().default("127.0.0.1"),
    REDIS_URL: redisUrl.default("redis://127.0.0.1:6379"),
    UPSTASH_REDIS_REST_TOKEN: z.string({ error: "UPSTASH_REDIS_REST_TOKEN is required (the bearer token clients must send)" }).min(1),
    BRIDGE_POOL_SIZE: z.coerce.number().int().min(1).max(256).default(8),
  })
  .transform((e) => ({ port: e.BRIDGE_PORT, host: e.BRIDGE_HOST, redisUrl: e.REDIS_URL, token: e.UPSTASH_REDIS_REST_TOKEN, poolSize: e.BRIDGE_POOL_SIZE }));

export type BridgeConfig = z.output<typeof BridgeEnv>;

/** Parses the bridge's environment once; throws a ConfigError listing every bad variable. */
export const loadConfig = (env: NodeJS.ProcessEnv = process.env): BridgeConfig => parseEnv("bridge", BridgeEnv, env);
