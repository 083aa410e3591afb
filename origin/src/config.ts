import { ConsumerGroups, HOLD_SWEEP_INTERVAL_MS, OUTBOXES_KEY, Topics } from "@fluxgate/common";
import { brokerList, milliseconds, parseEnv, port } from "@fluxgate/common/node";
import { z } from "zod";

const OriginEnv = z
  .object({
    ORIGIN_HOST: z.string().default("127.0.0.1"),
    ORIGIN_PORT: port(3000),
    /**
     * /metrics listens here, apart from the public port that takes /orders: only the scraper
     * should reach it (the compose file does not publish it).
     */
    ORIGIN_METRICS_HOST: z.string().default("127.0.0.1"),
    ORIGIN_METRICS_PORT: port(3002),
    KAFKA_BROKERS: brokerList(),
    REDIS_URL: z.url().default("redis://127.0.0.1:6379"),
    ORIGIN_SIGNING_SECRET: z.string().min(16, "ORIGIN_SIGNING_SECRET: at least 16 characters (generate one with `npm run up`)"),
    /** Where every sale event goes; tests use a topic of their own. */
    ORDERS_TOPIC: z.string().min(1).default(Topics.orders),
    /** The worker's consumer group (its CONSUMER_GROUP): GET /pipeline reports its lag. */
    WORKER_CONSUMER_GROUP: z.string().min(1).default(ConsumerGroups.worker),
    /** How long a produce (forward or relay batch) may wait for the broker's ack before it counts as failed. */
    PRODUCE_TIMEOUT_MS: milliseconds(5000),
    /** An outbox entry no forward confirmed for this long is produced by the relay. */
    RELAY_MIN_IDLE_MS: milliseconds(3000, 0),
    /** While orders flow, the relay reads new outbox entries at most once per this (one command per read, however many entries). */
    RELAY_READ_INTERVAL_MS: milliseconds(1000),
    /** How long the relay's one blocking read waits when nothing happens: idle, one billed command per this. */
    RELAY_BLOCK_MS: milliseconds(25_000, 100),
    /** How often the relay sweeps everything: orphaned entries, ended sales to retire, outboxes registered elsewhere. */
    RELAY_SWEEP_MS: milliseconds(60_000, 100),
    /** A forward's confirmation waits up to this long to share one command with others (keep well below RELAY_MIN_IDLE_MS). */
    ACK_FLUSH_MS: milliseconds(1000),
    /**
     * A sale's expired holds are swept at most once per this when no buyer's call ends them first
     * (the gate ends them on each call): their units are back within this of the expiry.
     */
    HOLD_SWEEP_INTERVAL_MS: milliseconds(HOLD_SWEEP_INTERVAL_MS, 100),
    /** The set naming every outbox stream; tests point it at a set of their own so they relay only their streams. */
    RELAY_OUTBOXES_KEY: z.string().min(1).default(OUTBOXES_KEY),
  })
  .refine((c) => c.RELAY_MIN_IDLE_MS === 0 || c.ACK_FLUSH_MS < c.RELAY_MIN_IDLE_MS, {
    // Else the relay would produce again, as unconfirmed, what the forwards produced and are about to confirm.
    message: "ACK_FLUSH_MS must be below RELAY_MIN_IDLE_MS",
    path: ["ACK_FLUSH_MS"],
  });

export type OriginConfig = z.output<typeof OriginEnv>;

export const loadConfig = (env: NodeJS.ProcessEnv = process.env): OriginConfig => parseEnv("origin", OriginEnv, env);
