import { Partitioners, type Kafka, type Message, type Producer } from "kafkajs";
import type { Logger } from "pino";

class ProduceTimeout extends Error {
  override name = "ProduceTimeout";
}

export interface SaleEventProducer {
  /** Resolves once every message is acknowledged by all in-sync replicas; rejects on failure or after the produce timeout. */
  produce(messages: Message[]): Promise<void>;
  /** Connects in the background; produce() waits for it. */
  connect(): void;
  /** Waits for what is queued (at most the produce timeout: no caller waits longer), then disconnects. Safe to call twice. */
  disconnect(): Promise<void>;
}

interface Pending {
  messages: Message[];
  state: "queued" | "sent" | "settled";
  resolve(): void;
  reject(error: unknown): void;
}

/** Above this many messages, queued produces wait for the next request. */
const MAX_BATCH_MESSAGES = 2000;

/**
 * The idempotent producer (acks from all in-sync replicas, retried by kafkajs with sequence
 * numbers so a retry never duplicates) behind a queue that coalesces concurrent produces.
 *
 * kafkajs serialises an idempotent producer's requests per broker, so one request per forward
 * would cap throughput at one broker round trip per order. Instead, whatever arrives while a
 * request is in flight goes out together in the next one: no added latency when idle, one
 * request for a crowd. A produce whose caller gave up before it was sent is dropped, so an outage
 * does not pile up work the relay will redo anyway.
 */
export function createSaleEventProducer(kafka: Kafka, topic: string, timeoutMs: number, logger: Logger): SaleEventProducer {
  const producer: Producer = kafka.producer({
    idempotent: true,
    // With idempotence the broker orders by sequence number; kafkajs sends one request per broker at a time anyway.
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    // Topics are created up front (the stack, the tests); a typo must not create a new one.
    allowAutoTopicCreation: false,
  });
  let connecting: Promise<void> | undefined;
  let disconnecting: Promise<void> | undefined;
  const queue: Pending[] = [];
  let flushing: Promise<void> | undefined;

  const connect = () => {
    connecting ??= producer.connect().catch((error: unknown) => {
      connecting = undefined;
      throw error;
    });
    return connecting;
  };

  async function sendQueued() {
    while (queue.length > 0) {
      const batch: Pending[] = [];
      let size = 0;
      while (queue.length > 0 && (batch.length === 0 || size + queue[0]!.messages.length <= MAX_BATCH_MESSAGES)) {
        const next = queue.shift()!;
        next.state = "sent";
        size += next.messages.length;
        batch.push(next);
      }
      try {
        await connect();
        await producer.send({ topic, acks: -1, messages: batch.flatMap((p) => p.messages) });
        for (const p of batch) p.resolve();
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
    }
  }

  const flush = (): Promise<void> => {
    flushing ??= sendQueued().finally(() => {
      flushing = undefined;
      // A produce queued between the loop's end and this callback found `flushing` still set.
      if (queue.length > 0) void flush();
    });
    return flushing;
  };

  return {
    connect() {
      connect().catch((err: unknown) => logger.warn({ err }, "kafka producer not connected yet; retrying on the next produce"));
    },

    produce(messages) {
      if (disconnecting) return Promise.reject(new Error("producer is shutting down"));
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          // Not sent yet: drop it. Already sent: it may still land (a duplicate the worker removes).
          const at = queue.indexOf(pending);
          if (at >= 0) queue.splice(at, 1);
          pending.reject(new ProduceTimeout(`no ack from Kafka within ${timeoutMs} ms`));
        }, timeoutMs);
        const settle = (fn: () => void) => {
          if (pending.state === "settled") return;
          pending.state = "settled";
          clearTimeout(timer);
          fn();
        };
        const pending: Pending = {
          messages,
          state: "queued",
          resolve: () => settle(resolve),
          reject: (error) => settle(() => reject(error)),
        };
        queue.push(pending);
        void flush();
      });
    },

    disconnect() {
      disconnecting ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            logger.warn({ timeoutMs, queued: queue.length }, "kafka producer did not drain in time");
            resolve();
          }, timeoutMs);
        });
        await Promise.race([flushing ?? Promise.resolve(), deadline]);
        clearTimeout(timer);
        await producer.disconnect();
      })();
      return disconnecting;
    },
  };
}
