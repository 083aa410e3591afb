import type { Message } from "kafkajs";
import type { ProduceSource } from "./metrics";

/** Kafka headers the origin adds, for tracing a message back to its outbox entry. Consumers need not read them. */
export const MessageHeaders = {
  outboxId: "fluxgate-outbox-id",
  source: "fluxgate-source",
} as const;

/**
 * A sale event as it goes to Kafka, the same from the forward and the relay: keyed by productId
 * (one partition per product keeps a sale's start before its orders), the value the exact bytes
 * the edge wrote to the outbox.
 */
export function saleEventMessage(productId: string, value: Buffer, outboxId: string | undefined, source: ProduceSource): Message {
  return {
    key: productId,
    value,
    headers: { [MessageHeaders.source]: source, ...(outboxId ? { [MessageHeaders.outboxId]: outboxId } : {}) },
  };
}
