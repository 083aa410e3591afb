import { parseEnv, port } from "@fluxgate/common/node";
import { z } from "zod";

const OriginEnv = z.object({
  ORIGIN_HOST: z.string().default("127.0.0.1"),
  ORIGIN_PORT: port(3000),
  KAFKA_BROKERS: z.string().default("127.0.0.1:9092").transform((s) => s.split(",").map((b) => b.trim()).filter(Boolean)),
  REDIS_URL: z.url().default("redis://127.0.0.1:6379"),
  ORIGIN_SIGNING_SECRET: z.string().min(16, "ORIGIN_SIGNING_SECRET: at least 16 characters (generate one with `npm run up`)"),
});

export type OriginConfig = z.output<typeof OriginEnv>;

export const loadConfig = (env: NodeJS.ProcessEnv = process.env): OriginConfig => parseEnv("origin", OriginEnv, env);
