import { pino, type Logger } from "pino";

export type { Logger };

/** One JSON line per event on stdout; LOG_LEVEL=debug for more. Tests pass LOG_LEVEL=silent. */
export function createLogger(service: string): Logger {
  return pino({ name: service, level: process.env.LOG_LEVEL ?? "info" });
}
