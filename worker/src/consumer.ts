import { setTimeout as delay } from "node:timers/promises";
import { backoffMs, endSpan, type Span, type Tracer } from "@fluxgate/common/node";
import type { Batch, Consumer, EachBatchPayload, Kafka, Producer } from "kafkajs";
import type pg from "pg";
import type { Logger } from "pino";
import { NOTHING, processBatch, type BatchResult } from "./batch";
import type { WorkerConfig } from "./config";
import { sendDeadLetters } from "./dlq";
import type { WorkerMetrics } from "./metrics";
import { startBatchSpan } from "./trace";

/** What a batch did, once its transaction, dead letters and offsets are committed. */
export interface BatchCommitted extends BatchResult {
  topic: string;
  partition: number;
  firstOffset: string;
  lastOffset: string;
  messages: number;
  /** Date.now() right after the offset commit. */
  committedAt: number;
}

export interface WorkerHooks {
  /** Called after each batch is fully committed (tests, the pipeline bench). Must not throw. */
  onBatchCommitted?: (batch: BatchCommitted) => void;
}

/**
 * PostgreSQL refused the data itself (class 22 data exception, 23 integrity violation): trying the
 * same batch again would fail again, so the batch is split to find the message at fault.
 */
export const isPoison = (error: unknown) => typeof error === "object" && error !== null && /^2[23]/.test(String((error as { code?: unknown }).code ?? ""));

const rejected = (error: unknown, index: number): BatchResult => ({
  ...NOTHING,
  dead: [{ index, reason: "rejected", detail: error instanceof Error ? error.message : String(error) }],
});

export interface OrderConsumerDeps {
  kafka: Kafka;
  pool: pg.Pool;
  producer: Producer;
  config: WorkerConfig;
  metrics: WorkerMetrics;
  logger: Logger;
  hooks: WorkerHooks;
  /** Each batch's span links the traces of its records. */
  tracer: Tracer;
}

/**
 * The orders consumer: kafkajs eachBatch, offsets resolved and committed by hand, only after the
 * batch's transaction and its dead letters are committed. Any failure is retried with backoff
 * (nothing is skipped); stop() lets the batch in flight finish and commit.
 */
export function createOrderConsumer({ kafka, pool, producer, config, metrics, logger, hooks, tracer }: OrderConsumerDeps) {
  const consumer: Consumer = kafka.consumer({
    groupId: config.CONSUMER_GROUP,
    sessionTimeout: config.WORKER_SESSION_TIMEOUT_MS,
    rebalanceTimeout: config.WORKER_REBALANCE_TIMEOUT_MS,
    heartbeatInterval: config.WORKER_HEARTBEAT_INTERVAL_MS,
    maxBytesPerPartition: config.WORKER_MAX_BYTES_PER_PARTITION,
    maxBytes: config.WORKER_MAX_BYTES,
    minBytes: config.WORKER_MIN_BYTES,
    maxWaitTimeInMs: config.WORKER_MAX_WAIT_MS,
  });
  const stopping = new AbortController();

  /** A pause that stop() cuts short. */
  const sleep = (ms: number) => delay(ms, undefined, { signal: stopping.signal }).catch(() => undefined);

  /**
   * The whole batch in one transaction. When PostgreSQL refuses its data, halves of it, each in
   * its own transaction and in order, down to the message at fault (about 2·log2(n) transactions
   * for one bad message), which is dead-lettered as `rejected`.
   */
  async function persist(partition: number, messages: Batch["messages"], first = 0): Promise<BatchResult> {
    try {
      const result = await processBatch(pool, { partition, messages });
      return first === 0 ? result : { ...result, dead: result.dead.map((d) => ({ ...d, index: d.index + first })) };
    } catch (error) {
      if (!isPoison(error)) throw error;
      if (messages.length === 1) return rejected(error, first);
      if (first === 0) logger.warn({ err: error, partition, firstOffset: messages[0]!.offset }, "batch refused by PostgreSQL, isolating the message");
      const half = Math.ceil(messages.length / 2);
      const left = await persist(partition, messages.slice(0, half), first);
      const right = await persist(partition, messages.slice(half), first + half);
      return {
        salesCreated: left.salesCreated + right.salesCreated,
        controlsRecorded: left.controlsRecorded + right.controlsRecorded,
        stockRaised: left.stockRaised + right.stockRaised,
        persisted: [...left.persisted, ...right.persisted],
        duplicates: left.duplicates + right.duplicates,
        transitionsRecorded: left.transitionsRecorded + right.transitionsRecorded,
        unitsReleased: left.unitsReleased + right.unitsReleased,
        conflicts: [...left.conflicts, ...right.conflicts],
        dead: [...left.dead, ...right.dead],
        stockConflicts: left.stockConflicts + right.stockConflicts,
      };
    }
  }

  async function eachBatch(payload: EachBatchPayload) {
    if (payload.batch.messages.length === 0) return;
    const span = startBatchSpan(tracer, payload.batch);
    try {
      await handleBatch(payload, span);
      endSpan(span);
    } catch (error) {
      endSpan(span, error);
      throw error;
    }
  }

  async function handleBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning }: EachBatchPayload, span: Span) {
    const started = performance.now();
    let result: BatchResult;
    const messages = batch.messages;
    for (let attempt = 0; ; attempt++) {
      try {
        result = await persist(batch.partition, messages);
        const dead = result.dead.sort((a, b) => a.index - b.index).map((d) => ({ message: messages[d.index]!, reason: d.reason, detail: d.detail }));
        await sendDeadLetters(producer, config.DLQ_TOPIC, batch, dead);
        break;
      } catch (error) {
        // Nothing committed for this batch: stopping now just leaves it to the next consumer.
        if (!isRunning() || stopping.signal.aborted) throw error;
        metrics.retries.inc();
        const waitMs = Math.round(backoffMs(attempt, config.WORKER_RETRY_MAX_MS));
        span.addEvent("retry", { attempt, waitMs });
        logger.warn({ err: error, partition: batch.partition, firstOffset: batch.firstOffset(), attempt, waitMs }, "batch failed, retrying");
        await sleep(waitMs);
        await heartbeat(); // a rebalance meanwhile throws here: kafkajs rejoins and refetches
      }
    }

    const lastOffset = messages.at(-1)!.offset;
    resolveOffset(lastOffset);
    await commitOffsetsIfNecessary({
      topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(lastOffset) + 1n).toString() }] }],
    });
    const committedAt = Date.now();

    metrics.batchSeconds.observe((performance.now() - started) / 1000);
    metrics.batchSize.observe(batch.messages.length);
    metrics.persisted.inc(result.persisted.length);
    metrics.rate.add(result.persisted.length);
    metrics.duplicates.inc(result.duplicates);
    metrics.sales.inc(result.salesCreated);
    metrics.controls.inc(result.controlsRecorded);
    metrics.stockRaised.inc(result.stockRaised);
    metrics.transitions.inc(result.transitionsRecorded);
    metrics.unitsReleased.inc(result.unitsReleased);
    metrics.transitionConflicts.inc(result.conflicts.length);
    metrics.stockConflicts.inc(result.stockConflicts);
    for (const d of result.dead) metrics.dlq.inc({ reason: d.reason });
    for (const o of result.persisted) metrics.latency.observe(Math.max(0, committedAt - o.acceptedAt.getTime()) / 1000);
    if (result.dead.length > 0)
      logger.warn(
        { partition: batch.partition, dead: result.dead.map((d) => ({ offset: batch.messages[d.index]!.offset, reason: d.reason })) },
        "sent to the dead-letter topic",
      );
    if (result.controlsRecorded > 0) logger.info({ partition: batch.partition, controls: result.controlsRecorded }, "sale controls recorded");
    // Redis decides each end atomically, so this is a bug upstream or a hand-made message: kept, for a human to look at.
    for (const c of result.conflicts)
      logger.warn({ partition: batch.partition, ...c }, "order transition cannot follow the order's status: recorded, status unchanged");
    logger.debug(
      { partition: batch.partition, messages: batch.messages.length, persisted: result.persisted.length, duplicates: result.duplicates },
      "batch committed",
    );
    // One line per order, committed: the last hop of its trace, by the trace id its row keeps.
    if (logger.isLevelEnabled("info")) {
      const batchTraceId = span.spanContext().traceId;
      for (const o of result.persisted) {
        logger.info(
          { traceId: o.traceId ?? undefined, orderId: o.orderId, productId: o.productId, partition: batch.partition, batchTraceId },
          "order persisted",
        );
      }
    }

    hooks.onBatchCommitted?.({
      ...result,
      topic: batch.topic,
      partition: batch.partition,
      firstOffset: batch.messages[0]!.offset,
      lastOffset,
      messages: messages.length,
      committedAt,
    });
  }

  return {
    async start() {
      await consumer.connect();
      // A new group starts at the beginning: an order produced before the first worker ever ran is still an order.
      await consumer.subscribe({ topics: [config.ORDERS_TOPIC], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: config.WORKER_PARTITIONS_CONCURRENCY,
        eachBatch,
      });
    },
    /** Waits for the batch in flight to finish and commit, then leaves the group. */
    async stop() {
      stopping.abort();
      await consumer.disconnect();
    },
    consumer,
  };
}
