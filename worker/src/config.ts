import { parseEnv, port } from "@fluxgate/common/node";
import { z } from "zod";

const WorkerEnv = z.object({
  WORKER_HOST: z.string().default("127.0.0.1"),
  /** Only /health and /metrics listen here; the work itself comes from Kafka. */
  WORKER_PORT: port(3001),
  KAFKA_BROKERS: z.string().default("127.0.0.1:9092").transform((s) => s.split(",").map((b) => b.trim()).filter(Boolean)),
  DATABASE_URL: z.string().default("postgres://postgres@127.0.0.1:5432/fluxgate"),
});

export type WorkerConfig = z.output<typeof WorkerEnv>;

export const loadConfig = (env: NodeJS.ProcessEnv = process.env): WorkerConfig => parseEnv("worker", WorkerEnv, env);
