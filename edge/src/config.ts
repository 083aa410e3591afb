import { z } from "zod";

const secret = (name: string, hint: string) => z.string({ error: `${name} is not set: ${hint}` }).min(1, `${name} is empty: ${hint}`);
const put = (name: string) => `run \`wrangler secret put ${name}\` (locally: \`npm run up\` writes .dev.vars)`;

/** An optional setting: wrangler [vars] cannot be absent, so "" means "not set". */
const optional = <T extends z.ZodType<string>>(schema: T) => z.union([z.literal("").transform(() => undefined), schema]).optional();

const EdgeEnv = z.object({
  ORIGIN_URL: z.url({ error: "ORIGIN_URL must be the origin's base URL (wrangler.toml [vars])" }),
  ADMIN_TOKEN: secret("ADMIN_TOKEN", put("ADMIN_TOKEN")),
  /** The shop's backend confirms payments of held orders with it (POST /sales/:productId/orders/:orderId/pay). */
  SHOP_API_TOKEN: secret("SHOP_API_TOKEN", put("SHOP_API_TOKEN")),
  TICKET_SECRET: secret("TICKET_SECRET", put("TICKET_SECRET")),
  ORIGIN_SIGNING_SECRET: secret("ORIGIN_SIGNING_SECRET", put("ORIGIN_SIGNING_SECRET")),
  UPSTASH_REDIS_REST_URL: z.url({ error: `UPSTASH_REDIS_REST_URL must be the database's REST URL: ${put("UPSTASH_REDIS_REST_URL")}` }),
  UPSTASH_REDIS_REST_TOKEN: secret("UPSTASH_REDIS_REST_TOKEN", put("UPSTASH_REDIS_REST_TOKEN")),
  /** Who a buyer is: "jwt" (a token the shop issued, verified here) or "anonymous" (the body's userId; local experiments only). */
  IDENTITY: z.enum(["jwt", "anonymous"], { error: 'IDENTITY must be "jwt" or "anonymous" (wrangler.toml [vars])' }),
  JWT_ISSUER: optional(z.string()),
  JWT_AUDIENCE: optional(z.string()),
  /** RS256/ES256 keys of the shop's issuer… */
  JWT_JWKS_URL: optional(z.url({ error: "JWT_JWKS_URL must be the URL of the issuer's JWKS" })),
  /** …or an HS256 secret shared with it (a secret: `wrangler secret put JWT_SECRET`). */
  JWT_SECRET: optional(z.string()),
  /** A cookie that may carry the token when no Authorization header does (browsers). */
  JWT_COOKIE: optional(z.string().regex(/^[!#-'*+.0-9A-Z^-z|~-]+$/, "JWT_COOKIE must be a cookie name")),
});

export type EdgeConfig = z.output<typeof EdgeEnv>;

/** IDENTITY=jwt needs an issuer, an audience and exactly one way to check signatures. */
function identityComplete(config: EdgeConfig, ctx: z.RefinementCtx) {
  if (config.IDENTITY !== "jwt") return;
  const problem = (message: string) => ctx.addIssue({ code: "custom", message });
  const set = (name: string) => `set ${name} in wrangler.toml [vars] to your shop's value (locally \`npm run up\` sets the dev issuer's)`;
  if (!config.JWT_ISSUER) problem(`JWT_ISSUER is not set: ${set("JWT_ISSUER")}`);
  if (!config.JWT_AUDIENCE) problem(`JWT_AUDIENCE is not set: ${set("JWT_AUDIENCE")}`);
  if (!config.JWT_JWKS_URL && !config.JWT_SECRET)
    problem(`IDENTITY=jwt needs JWT_JWKS_URL (RS256/ES256) or the secret JWT_SECRET (HS256): ${set("JWT_JWKS_URL")}`);
  if (config.JWT_JWKS_URL && config.JWT_SECRET) problem("set JWT_JWKS_URL or JWT_SECRET, not both: which one signs the shop's tokens?");
}

export class EdgeConfigError extends Error {
  override name = "EdgeConfigError";
  constructor(readonly problems: string[]) {
    super(`edge misconfigured: ${problems.join("; ")}`);
  }
}

const names = Object.keys(EdgeEnv.shape) as (keyof EdgeConfig)[];

/** The edge's settings from wrangler [vars] and secrets; a missing secret throws, it never gets a default. */
export function parseEdgeConfig(env: object): EdgeConfig {
  const result = EdgeEnv.superRefine(identityComplete).safeParse(env);
  if (!result.success) throw new EdgeConfigError(result.error.issues.map((issue) => issue.message));
  return result.data;
}

/**
 * Bindings hardly ever change in an isolate's life, but the runtime may hand each request a new
 * env object: parse once, and afterwards only compare the values (a handful of string compares).
 */
export class ConfigReader {
  private last: { raw: unknown[]; config: EdgeConfig } | undefined;

  read(env: object): EdgeConfig {
    const values = env as Record<string, unknown>;
    const last = this.last;
    if (last && names.every((name, i) => values[name] === last.raw[i])) return last.config;
    const config = parseEdgeConfig(env);
    this.last = { raw: names.map((name) => values[name]), config };
    return config;
  }
}
