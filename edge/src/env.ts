import type { Redis } from "@upstash/redis/cloudflare";
import type { EdgeConfig } from "./config";

/** Hono's type parameters for this worker: bindings as `wrangler types` generates them, and what the isolate puts on each request. */
export type EdgeEnv = {
  Bindings: Env;
  Variables: {
    /** The edge's parsed settings (Isolate.context). */
    config: EdgeConfig;
    redis: Redis;
    /** The buyer: the verified token's `sub` (IDENTITY=jwt); unset when IDENTITY=anonymous. */
    buyer: string;
  };
};
