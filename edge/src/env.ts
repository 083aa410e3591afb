/** Hono's type parameter for this worker: bindings as `wrangler types` generates them. */
export type EdgeEnv = { Bindings: Env };
