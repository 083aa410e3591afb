import { z } from "zod";

const secret = (name: string, hint: string) =>
  z.string({ error: `${name} is not set: ${hint}` }).min(1, `${name} is empty: ${hint}`);
const put = (name: string) => `run \`wrangler secret put ${name}\` (locally: \`npm run up\` writes .dev.vars)`;

const EdgeEnv = z.object({
  ORIGIN_URL: z.url({ error: "ORIGIN_URL must be the origin's base URL (wrangler.toml [vars])" }),
  ADMIN_TOKEN: secret("ADMIN_TOKEN", put("ADMIN_TOKEN")),
  TICKET_SECRET: secret("TICKET_SECRET", put("TICKET_SECRET")),
  ORIGIN_SIGNING_SECRET: secret("ORIGIN_SIGNING_SECRET", put("ORIGIN_SIGNING_SECRET")),
  UPSTASH_REDIS_REST_URL: z.url({ error: `UPSTASH_REDIS_REST_URL must be the database's REST URL: ${put("UPSTASH_REDIS_REST_URL")}` }),
  UPSTASH_REDIS_REST_TOKEN: secret("UPSTASH_REDIS_REST_TOKEN", put("UPSTASH_REDIS_REST_TOKEN")),
});

export type EdgeConfig = z.output<typeof EdgeEnv>;

export class EdgeConfigError extends Error {
  override name = "EdgeConfigError";
  constructor(readonly problems: string[]) {
    super(`edge misconfigured: ${problems.join("; ")}`);
  }
}

// Bindings are fixed for an isolate's life: parse once per env object, not per request.
const parsed = new WeakMap<object, EdgeConfig>();

/** The edge's settings from wrangler [vars] and secrets; a missing secret throws, it never gets a default. */
export function edgeConfig(env: object): EdgeConfig {
  const cached = parsed.get(env);
  if (cached) return cached;
  const result = EdgeEnv.safeParse(env);
  if (!result.success) throw new EdgeConfigError(result.error.issues.map((issue) => issue.message));
  parsed.set(env, result.data);
  return result.data;
}
