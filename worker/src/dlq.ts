import type { IHeaders, KafkaMessage, Producer } from "kafkajs";
import type { DlqReason } from "./parse";

/** Headers a dead letter carries besides the original message's own. */
export const DlqHeaders = {
  reason: "x-dlq-reason",
  detail: "x-dlq-detail",
  topic: "x-original-topic",
  partition: "x-original-partition",
  offset: "x-original-offset",
} as const;

export interface DeadLetterEntry {
  message: Pick<KafkaMessage, "key" | "value" | "headers" | "offset">;
  reason: DlqReason;
  detail: string;
}

/**
 * Sends messages that can never be persisted to the dead-letter topic: the original key and
 * value untouched, the reason and origin in headers. Resolves once all in-sync replicas have them.
 */
export async function sendDeadLetters(producer: Producer, dlqTopic: string, from: { topic: string; partition: number }, entries: DeadLetterEntry[]) {
  if (entries.length === 0) return;
  await producer.send({
    topic: dlqTopic,
    acks: -1,
    messages: entries.map(({ message, reason, detail }) => {
      const headers: IHeaders = {
        ...(message.headers ?? {}),
        [DlqHeaders.reason]: reason,
        [DlqHeaders.detail]: detail.slice(0, 500),
        [DlqHeaders.topic]: from.topic,
        [DlqHeaders.partition]: String(from.partition),
        [DlqHeaders.offset]: message.offset,
      };
      return { key: message.key, value: message.value, headers };
    }),
  });
}
