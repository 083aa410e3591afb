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

const names = Object.keys(EdgeEnv.shape) as (keyof EdgeConfig)[];
// Bindings hardly ever change in an isolate's life, but the runtime may hand each request a new
// env object: parse once, and afterwards only compare the values (a handful of string compares).
let last: { raw: unknown[]; config: EdgeConfig } | undefined;

/** The edge's settings from wrangler [vars] and secrets; a missing secret throws, it never gets a default. */
export function edgeConfig(env: object): EdgeConfig {
  const values = env as Record<string, unknown>;
  if (last && names.every((name, i) => values[name] === last!.raw[i])) return last.config;
  const result = EdgeEnv.safeParse(env);
  if (!result.success) throw new EdgeConfigError(result.error.issues.map((issue) => issue.message));
  last = { raw: names.map((name) => values[name]), config: result.data };
  return result.data;
}
