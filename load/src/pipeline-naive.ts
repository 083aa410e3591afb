/**
 * The naive design the bench compares with: kafkajs eachMessage, one PostgreSQL transaction per
 * message. It runs the worker's own processBatch with a batch of one, so the SQL and its
 * semantics (ON CONFLICT, optimistic stock update) are the same and only the batching differs.
 * Offsets: kafkajs' default auto-commit (which favours it: no commit per message).
 */
import { processBatch } from "@fluxgate/worker";
import type { Kafka } from "kafkajs";
import type pg from "pg";
import { within } from "./bench/within";

export interface NaiveResult {
  messages: number;
  persisted: number;
  /** From the first message handled to the last. */
  ms: number;
}

export async function runNaive(opts: {
  kafka: Kafka;
  pool: pg.Pool;
  topic: string;
  group: string;
  maxMessages: number;
  maxMs: number;
  onProgress: (messages: number) => void;
}): Promise<NaiveResult> {
  const consumer = opts.kafka.consumer({ groupId: opts.group, maxWaitTimeInMs: 100 });
  let messages = 0;
  let persisted = 0;
  let first = 0;
  let last = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [opts.topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        if (messages >= opts.maxMessages || (first && Date.now() - first >= opts.maxMs)) return done();
        first ||= Date.now();
        const result = await processBatch(opts.pool, { partition, messages: [message] });
        persisted += result.persisted.length;
        messages++;
        last = Date.now();
        opts.onProgress(messages);
        if (messages >= opts.maxMessages || last - first >= opts.maxMs) done();
      },
    });
    await within(finished, opts.maxMs + 60_000, "the naive consumer");
  } finally {
    await consumer.disconnect();
  }
  return { messages, persisted, ms: last - first };
}
