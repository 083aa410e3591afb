import { Topics, ConsumerGroups } from "@fluxgate/common";
import { brokerList, int, LOCAL_DATABASE_URL, parseEnv, port } from "@fluxgate/common/node";
import { z } from "zod";

const WorkerEnv = z.object({
  WORKER_HOST: z.string().default("127.0.0.1"),
  /** Only /health and /metrics listen here; the work itself comes from Kafka. */
  WORKER_PORT: port(3001),
  /**
   * The worker has no signed calls of its own: /health's details (Kafka's and PostgreSQL's state,
   * their error texts) go to `Authorization: Bearer <WORKER_HEALTH_TOKEN>` only. Unset (or empty):
   * nobody gets them; anyone gets up or down.
   */
  WORKER_HEALTH_TOKEN: z
    .string()
    .optional()
    .transform((v) => v || undefined)
    .refine((v) => v === undefined || v.length >= 16, "WORKER_HEALTH_TOKEN: at least 16 characters"),
  KAFKA_BROKERS: brokerList(),
  DATABASE_URL: z.string().default(LOCAL_DATABASE_URL),
  /** Tables live in this schema (created by the migrations); unset = the connection's default search_path. */
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, "DATABASE_SCHEMA: lower-case letters, digits and '_', at most 63")
    .optional(),
  ORDERS_TOPIC: z.string().min(1).default(Topics.orders),
  DLQ_TOPIC: z.string().min(1).default(Topics.deadLetters),
  CONSUMER_GROUP: z.string().min(1).default(ConsumerGroups.worker),

  // Batch tuning. A fetch returns at once when data is there (minBytes 1), so a backlog comes in
  // batches of up to maxBytesPerPartition (~4,000 orders per MiB) and a trickle without delay.
  WORKER_MAX_BYTES_PER_PARTITION: int(2 * 1024 * 1024, 1024, 64 * 1024 * 1024),
  WORKER_MAX_BYTES: int(16 * 1024 * 1024, 1024, 256 * 1024 * 1024),
  WORKER_MIN_BYTES: int(1, 1, 16 * 1024 * 1024),
  WORKER_MAX_WAIT_MS: int(100, 0, 10_000),
  /** Partitions whose batches are processed at the same time (each in its own transaction). */
  WORKER_PARTITIONS_CONCURRENCY: int(3, 1, 64),
  /**
   * A worker that died without leaving (kill -9) keeps its partitions until this passes: short,
   * so a replacement drains the backlog within seconds. Batches commit in well under a second.
   */
  WORKER_SESSION_TIMEOUT_MS: int(10_000, 6_000, 300_000),
  /** How long a rebalance waits for members to rejoin. */
  WORKER_REBALANCE_TIMEOUT_MS: int(15_000, 6_000, 300_000),
  WORKER_HEARTBEAT_INTERVAL_MS: int(3_000, 100, 60_000),
  /** Longest pause between two attempts at a batch that failed for a transient reason. */
  WORKER_RETRY_MAX_MS: int(5_000, 10, 60_000),
  WORKER_LAG_INTERVAL_MS: int(5_000, 100, 60_000),
});

export type WorkerConfig = z.output<typeof WorkerEnv>;

export const loadConfig = (env: NodeJS.ProcessEnv = process.env): WorkerConfig => parseEnv("worker", WorkerEnv, env);
