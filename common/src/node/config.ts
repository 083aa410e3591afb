import { z } from "zod";

export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Parses a service's environment once, at start, into a typed object. Every problem is
 * reported together, by variable name, so a misconfigured deploy fails in one go.
 */
export function parseEnv<S extends z.ZodType>(service: string, schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(`${service}: invalid configuration\n${z.prettifyError(result.error)}`);
}

/** Environment values are strings; ports and sizes are numbers with bounds. */
export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
