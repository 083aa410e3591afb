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

/** The local stack's database (`npm run up` creates it): every tool's default when DATABASE_URL is unset. */
export const LOCAL_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fluxgate";

/** The local stack's broker, the default when KAFKA_BROKERS is unset. */
export const LOCAL_KAFKA_BROKERS = "127.0.0.1:9092";

/** Environment values are strings; ports and sizes are numbers with bounds. */
export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** A bounded whole number (sizes, counts, milliseconds) from an environment string. */
export const int = (fallback: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(fallback);

/** A duration in milliseconds, at most an hour. */
export const milliseconds = (fallback: number, min = 1) => int(fallback, min, 3_600_000);

/** KAFKA_BROKERS: "host:port,host:port" → ["host:port", …]. */
export const brokerList = () =>
  z
    .string()
    .default(LOCAL_KAFKA_BROKERS)
    .transform((s) =>
      s
        .split(",")
        .map((b) => b.trim())
        .filter(Boolean),
    );

/** The brokers a tool or test talks to: KAFKA_BROKERS, else the local stack's. */
export const kafkaBrokersFromEnv = (env: NodeJS.ProcessEnv = process.env) => brokerList().parse(env.KAFKA_BROKERS);
